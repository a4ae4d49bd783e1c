"""moto's S3 server behind waitress, which keeps connections alive as S3 does.

moto's own ``moto.server`` runs werkzeug's development server, which answers every request with
``Connection: close``. Real S3 keeps connections open, so with werkzeug each request would pay a
TCP connect and connection-pool churn in the *client* that production never sees, and a
benchmark would charge that to asyncfilter. Run: ``python -m asyncfilter.testing._moto_keepalive
--port N``.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()

    import waitress  # type: ignore[import-untyped]
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = DomainDispatcherApplication(create_backend_app)
    waitress.serve(
        app,
        host="127.0.0.1",
        port=args.port,
        threads=args.threads,
        connection_limit=1000,
        channel_timeout=120,
        _quiet=True,
    )


if __name__ == "__main__":
    main()
