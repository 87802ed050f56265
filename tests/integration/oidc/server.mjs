// SPDX-License-Identifier: ISC
// Copyright (c) 2026 The popsyncd authors
//
// A real, certified OpenID provider (oidc-provider) for t_oauth2_oidc.sh:
// device flow (RFC 8628), refresh tokens with rotation, introspection
// (RFC 7662, which dovecot's oauth2 passdb asks) and revocation (RFC 7009),
// over HTTPS with the tests' certificate.  The user signs in through the
// provider's own development pages (devInteractions): any login name
// becomes the account, and that name is the "sub" dovecot reads.
//
//   node server.mjs PORTFILE CERT KEY CLIENT_ID CLIENT_SECRET \
//       DOVECOT_ID DOVECOT_SECRET
//
// Run from the directory where npm ci installed oidc-provider.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';

import Provider from 'oidc-provider';

const [portfile, cert, key, clientId, clientSecret, dovecotId,
    dovecotSecret] = process.argv.slice(2);

let handler = (req, res) => { res.statusCode = 503; res.end(); };
const server = https.createServer({
  cert: readFileSync(cert), key: readFileSync(key),
}, (req, res) => handler(req, res));

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`https://localhost:${port}`, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code',
          'refresh_token'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
    }, {
      // dovecot authenticates its introspection requests.
      client_id: dovecotId,
      client_secret: dovecotSecret,
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
    },
    scopes: ['openid', 'offline_access'],
    rotateRefreshToken: true,
    issueRefreshToken: async (ctx, client) =>
      client.grantTypeAllowed('refresh_token'),
    // The user approves the code; consent for the scope is implied.
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid offline_access');
      await grant.save();
      return grant;
    },
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub }),
    }),
    cookies: { keys: ['popsyncd-test-cookie-key'] },
    ttl: {
      AccessToken: 3600,
      DeviceCode: 600,
      Grant: 86400,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: 86400,
      Session: 86400,
    },
  });
  // No warning about the development interactions on every start.
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  handler = provider.callback();
  writeFileSync(`${portfile}.tmp`, `${port}\n`);
  renameSync(`${portfile}.tmp`, portfile);
});
