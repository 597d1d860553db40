"""The saved-search operations of the OpenAPI document (``web/openapi.py``
adds them to its paths; their examples are in ``web/openapi_examples.py``).
Declarations only, kept apart from the search operations so each part of
the API reads on its own."""

from __future__ import annotations

from .saved import ALERTS_SHOWN, SAVED_PARAMS

_STAFF = [{"bearer": []}, {"staffSession": []}]
_ID = {"name": "search_id", "in": "path", "required": True, "schema": {"type": "string"},
       "description": "The saved search's id"}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


def _err(desc):
    return {"description": desc, **_json({"$ref": "#/components/schemas/Error"})}


PARAMS = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
          "description": "The search as query-string parameters, each a list of values ("
                         + ", ".join(SAVED_PARAMS) + "): read back by the results page and the percolator"}
SAVED_SEARCH = {
    "type": "object",
    "required": ["id", "name", "owner", "shared", "params", "created", "updated", "mine", "new_count",
                 "results_url"],
    "properties": {
        "id": {"type": "string"}, "name": {"type": "string"},
        "owner": {"type": "string", "description": "token:<12 hex of the token's SHA-256> of who saved it"},
        "shared": {"type": "boolean", "description": "visible to every staff member (only the owner changes it)"},
        "params": PARAMS,
        "created": {"type": "number", "description": "epoch seconds"},
        "updated": {"type": "number", "description": "epoch seconds"},
        "webhook_url": {"type": "string", "nullable": True,
                        "description": "owner only (a webhook URL is often a credential itself): where its "
                                       "new alerts are posted, null when none"},
        "mine": {"type": "boolean", "description": "the caller owns it"},
        "new_count": {"type": "integer", "minimum": 0,
                      "description": "alerts since the caller last opened its alerts page (/staff/saved/<id>)"},
        "results_url": {"type": "string", "description": "its results page (/search?...)"},
        "feed_token": {"type": "string", "description": "owner only: the secret of its feed URL"},
        "feed_url": {"type": "string", "description": "owner only: its Atom feed, token included"},
    },
}
ALERT = {
    "type": "object", "required": ["article_id", "title", "published", "url", "matched_at", "article_url"],
    "properties": {"article_id": {"type": "string"}, "title": {"type": "string", "nullable": True},
                   "published": {"type": "string", "nullable": True,
                                 "description": "ISO 8601, newsroom time (a date alone when that is all)"},
                   "url": {"type": "string", "nullable": True},
                   "matched_at": {"type": "number", "description": "when the alert was recorded, epoch seconds"},
                   "article_url": {"type": "string", "description": "the article page"}}}
_CREATE_BODY = {
    "type": "object", "required": ["name"], "additionalProperties": False,
    "description": "The search as params or as query_string (one of them); other fields are refused",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200,
                 "description": "one line of text: control characters (line breaks and tabs included) are refused"},
        "params": PARAMS,
        "query_string": {"type": "string", "description": "the results page's URL after ?, e.g. q=香港&category=时政"},
        "shared": {"type": "boolean", "default": False}}}
_PATCH_BODY = {"type": "object", "additionalProperties": False, "minProperties": 1,
               "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                              "shared": {"type": "boolean"}}}
_NOT_FOUND = _err("No saved search of that id that the caller may see (someone else's unshared search included; "
                  "every id when SEARCH_SAVED_SEARCHES=off: 'saved searches are off')")
_NOT_OWNER = _err("A wrong token, or writes and staff tools disabled (no SEARCH_WRITE_TOKENS); or someone "
                  "else's shared search (only its owner changes or deletes it)")
_BAD = ("A bad body: not one JSON object, an unknown field (named), a bad name, or a search parameter a saved "
        "search does not take or a bad value (named, as /api/search would refuse it): nothing is stored")


_UNAVAILABLE = _err("The saved-search store cannot be opened, read or written now (locked, read-only, "
                    "damaged): nothing was changed; retry after Retry-After")
_OFF = " (also every id when SEARCH_SAVED_SEARCHES=off: 'saved searches are off')"


def paths() -> dict:
    """The saved-search operations, keyed by path (OpenAPI 3 path items)."""
    item = {"$ref": "#/components/schemas/SavedSearch"}
    out = {
        "/api/saved-searches": {
            "post": {
                "summary": "Save a search (staff: token or session)", "operationId": "createSavedSearch",
                "security": _STAFF,
                "requestBody": {"required": True, **_json(_CREATE_BODY)},
                "responses": {
                    "201": {"description": "Saved (Location: its URL)", **_json(item)},
                    "400": _err(_BAD), "415": _err("A body that is not JSON (Content-Type) or compressed")}},
            "get": {
                "summary": "The caller's saved searches and the shared ones, by name (staff)",
                "operationId": "savedSearches", "security": _STAFF,
                "responses": {"200": {"description": "Saved searches", **_json({
                    "type": "object", "required": ["saved_searches"],
                    "properties": {"saved_searches": {"type": "array", "items": item}}})}}}},
        "/api/saved-searches/{search_id}": {
            "get": {
                "summary": f"One saved search with its latest alerts (at most {ALERTS_SHOWN}, newest first; staff)",
                "operationId": "savedSearch", "security": _STAFF, "parameters": [_ID],
                "responses": {
                    "200": {"description": "The saved search", **_json({"allOf": [item, {
                        "type": "object", "required": ["alerts"],
                        "properties": {"alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}}}]})},
                    "404": _NOT_FOUND}},
            "patch": {
                "summary": "Rename, share or unshare a saved search (its owner)", "operationId": "changeSavedSearch",
                "security": _STAFF, "parameters": [_ID],
                "requestBody": {"required": True, **_json(_PATCH_BODY)},
                "responses": {
                    "200": {"description": "Changed", **_json(item)},
                    "400": _err(_BAD), "403": _NOT_OWNER, "404": _NOT_FOUND,
                    "415": _err("A body that is not JSON (Content-Type) or compressed")}},
            "delete": {
                "summary": "Delete a saved search with its alerts (its owner)", "operationId": "deleteSavedSearch",
                "security": _STAFF, "parameters": [_ID],
                "responses": {
                    "200": {"description": "Deleted", **_json({
                        "type": "object", "required": ["id", "deleted"],
                        "properties": {"id": {"type": "string"}, "deleted": {"type": "boolean"}}})},
                    "403": _NOT_OWNER, "404": _NOT_FOUND}}},
    }
    for item in out.values():
        for operation in item.values():
            operation["responses"]["503"] = _UNAVAILABLE
            operation["responses"].setdefault("404", _err("Saved searches are off (SEARCH_SAVED_SEARCHES=off)"))
    return out


# ---- Atom feeds (web/feeds.py): pages, not API answers; errors are HTML pages ----

def _page(desc):
    return {"description": desc, "content": {"text/html": {"schema": {"type": "string"}}}}


_ATOM = {"application/atom+xml": {"schema": {"type": "string", "description": "an Atom 1.0 feed (RFC 4287)"}}}
_VALIDATORS = {"ETag": {"schema": {"type": "string"}, "description": "the feed's version"},
               "Vary": {"schema": {"type": "string"}, "description": "Accept-Language (the feed's wording)"},
               "Cache-Control": {"schema": {"type": "string"}}}


def feed_paths(search_params: list) -> dict:
    """The two Atom feeds, keyed by path; ``search_params``: the query
    parameters of /api/search (a feed takes them but paging, and sort only
    as newest)."""
    from .feeds import FEED_SIZE  # here: web.feeds imports the pages, which import the API

    feed_params = [p for p in search_params if p["name"] not in ("page", "size", "sort")]
    feed_params.append({"name": "sort", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["newest"], "default": "newest"},
                        "description": "only newest: a feed is the newest matches"})
    return {
        "/feeds/saved/{search_id}.atom": {"get": {
            "summary": f"A saved search's alerts as Atom (its latest {FEED_SIZE}, newest first): for feed "
                       "readers, no login: the token in the URL is the key",
            "operationId": "savedSearchFeed",
            "parameters": [_ID,
                           {"name": "token", "in": "query", "required": True, "schema": {"type": "string"},
                            "description": "the saved search's feed token (its feed_url has it)"},
                           {"name": "If-None-Match", "in": "header", "required": False,
                            "schema": {"type": "string"},
                            "description": "the ETag of an earlier answer (weak comparison: W/\"...\" matches "
                                           "too; * matches any): 304 while the feed is unchanged"}],
            "responses": {
                "200": {"description": "The feed (Cache-Control: private, no-cache)", "content": _ATOM,
                        "headers": _VALIDATORS},
                "304": {"description": "Not modified: If-None-Match names the current ETag (no body; the same "
                                       "ETag, Vary and Cache-Control as the 200)", "headers": _VALIDATORS},
                "404": _page("A wrong or missing token, or an unknown id (the same answer: the token is the key); "
                             "or saved searches are off (SEARCH_SAVED_SEARCHES=off)"),
                "503": _page("The saved-search store cannot be read now; retry later")}}},
        "/search.atom": {"get": {
            "summary": f"The newest {FEED_SIZE} matches of a search as Atom (readers, no login)",
            "operationId": "searchFeed", "parameters": feed_params,
            "responses": {
                "200": {"description": "The feed (Cache-Control: public, max-age=60)", "content": _ATOM,
                        "headers": {"Vary": _VALIDATORS["Vary"], "Cache-Control": _VALIDATORS["Cache-Control"]}},
                "400": _page("A bad parameter (named), page or size, or sort other than newest"),
                "503": _page("The index is unavailable, or the query took too long; retry later")}}},
    }


SCHEMAS = {"SavedSearch": SAVED_SEARCH, "Alert": ALERT}
