"""``python -m greenroom_pagerduty.simulator --port 9001``: a PagerDuty to develop against."""

from __future__ import annotations

import argparse

import uvicorn

from ._app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a simulated PagerDuty (REST + Events v2)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument(
        "--token",
        default="simulated-pagerduty-token",
        help="the API token clients must send as 'Authorization: Token token=...'",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate-limit", type=int, default=None, metavar="PER_MINUTE")
    parser.add_argument(
        "--scale", type=int, default=0, metavar="N",
        help="add N generated services (five to an escalation policy) for catalog-scale runs",
    )
    parser.add_argument(
        "--oauth-client", action="append", default=[], metavar="ID:SECRET",
        help="an OAuth client its identity server (POST /oauth/token) issues tokens to",
    )
    parser.add_argument("--token-lifetime", type=int, default=3600, metavar="SECONDS")
    args = parser.parse_args(argv)
    clients = dict(c.split(":", 1) for c in args.oauth_client if ":" in c)
    if len(clients) != len(args.oauth_client):
        parser.error("--oauth-client takes ID:SECRET")
    app = create_app(
        token=args.token, seed=args.seed, rate_limit_per_minute=args.rate_limit, scale=args.scale,
        oauth_clients=clients, oauth_token_lifetime=args.token_lifetime,
    )
    print(
        f"PagerDuty simulator: REST at http://{args.host}:{args.port}, "
        f"Events API at http://{args.host}:{args.port}/v2/enqueue"
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
