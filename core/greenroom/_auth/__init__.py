"""Sign-in: who the viewer is (OIDC, an authenticating proxy, API tokens, guests)."""
