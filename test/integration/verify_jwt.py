"""Verifies a pgauth JWT access token as any Python service would: PyJWT's PyJWKClient fetches
the JWKS, picks the key by kid, and jwt.decode checks signature, issuer, audience and expiry.
Usage: verify_jwt.py <jwks_uri> <issuer> <token>...; prints the jti of each token."""
import sys

import jwt

jwks_uri, issuer, *tokens = sys.argv[1:]
client = jwt.PyJWKClient(jwks_uri)
for token in tokens:
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["ES256", "EdDSA", "RS256"],
        audience=issuer,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "sub", "aud", "jti"]},
    )
    print(claims["jti"])
