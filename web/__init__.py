"""The Flask web app (reader pages, JSON API) comes with the web-app issue.

For now a minimal JSON app over the engine so the service command works."""

from __future__ import annotations

import os


def create_app(test_config: dict | None = None):
    from flask import Flask, jsonify, request

    from search.engine import SearchEngine
    from search.models import SearchRequest

    app = Flask(__name__)
    app.config.update(SEARCH_INDEX=os.environ.get("SEARCH_INDEX", "data/index"),
                      SEARCH_USERDICT=os.environ.get("SEARCH_USERDICT") or None)
    if test_config:
        app.config.update(test_config)
    engine = SearchEngine.open(app.config["SEARCH_INDEX"], app.config["SEARCH_USERDICT"])

    @app.get("/healthz")
    def healthz():
        return jsonify({"ok": True, **engine.stats()})

    @app.get("/api/search")
    def api_search():
        q = request.args.get("q", "")
        if len(q) > 500:
            return jsonify({"error": "query too long (max 500 characters)"}), 400
        try:
            size = int(request.args.get("size", 10))
            page = int(request.args.get("page", 1))
        except ValueError:
            return jsonify({"error": "page and size must be integers"}), 400
        if not (1 <= size <= 100) or page < 1:
            return jsonify({"error": "size must be 1-100 and page >= 1"}), 400
        return jsonify(engine.search(SearchRequest(q=q, size=size, page=page)).to_dict())

    return app
