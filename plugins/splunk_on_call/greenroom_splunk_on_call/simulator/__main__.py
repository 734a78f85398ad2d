"""`python -m greenroom_splunk_on_call.simulator`: serve the simulator on its own port."""

from __future__ import annotations

import argparse

import uvicorn

from ._app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the Splunk On-Call simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--api-id", default="demo-api-id")
    parser.add_argument("--api-key", default="demo-api-key")
    parser.add_argument("--rest-key", default="demo-rest-key")
    parser.add_argument("--rate-limit", type=int, default=60, help="calls per minute per endpoint")
    parser.add_argument(
        "--scale", type=int, default=0, metavar="N",
        help="add N generated teams (with policies and routing keys) for catalog-scale runs",
    )
    args = parser.parse_args()
    app = create_app(
        api_id=args.api_id,
        api_key=args.api_key,
        rest_key=args.rest_key,
        rate_limit_per_minute=args.rate_limit,
        scale=args.scale,
    )
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
