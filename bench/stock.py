"""The stock setup our users could pick instead: whoosh 2.7.4 + jieba's
``ChineseAnalyzer`` with the default writer.  Runs inside its own virtual
environment (see ``bench/env.py``), never imports our code.

    python bench/stock.py index INDEX_DIR FILE.jsonl     -> JSON figures on stdout
"""

import json
import os
import sys
import time


def schema():
    from jieba.analyse import ChineseAnalyzer
    from whoosh import fields

    analyzer = ChineseAnalyzer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(stored=True, analyzer=analyzer),
        body=fields.TEXT(stored=True, analyzer=analyzer),
        published=fields.ID(stored=True),
        category=fields.ID(stored=True),
        source=fields.ID(stored=True),
        author=fields.ID(stored=True),
        url=fields.STORED(),
        tags=fields.KEYWORD(stored=True, commas=True),
    )


def index(index_dir, path):
    from whoosh import index as windex

    os.makedirs(index_dir, exist_ok=True)
    t0 = time.perf_counter()
    ix = windex.create_in(index_dir, schema())
    writer = ix.writer()
    docs = chars = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            writer.add_document(
                id=r["id"], title=r["title"], body=r.get("body") or "",
                published=r.get("published") or "", category=r.get("category") or "",
                source=r.get("source") or "", author=r.get("author") or "",
                url=r.get("url") or "", tags=",".join(r.get("tags") or []),
            )
            docs += 1
            chars += len(r["title"]) + len(r.get("body") or "")
    writer.commit()
    return {"seconds": time.perf_counter() - t0, "documents": docs, "characters": chars}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "index":
        print(json.dumps(index(sys.argv[2], sys.argv[3])))
    else:
        sys.exit(f"unknown command {cmd}")
