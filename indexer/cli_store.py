"""``python -m indexer backup|restore|audit``: the article store's commands
(the store itself is ``article_store.py``, its copies ``backup.py``)."""

from __future__ import annotations

import json
import os
import sys


def store_command(args) -> int:
    """``backup`` / ``restore`` / ``audit`` of the article store (``args``:
    the parsed command line); returns the exit status (0, or 2 with the
    reason on stderr)."""
    import datetime as dt

    from . import article_store, backup as store_backup

    if args.store == "off" or not args.store:
        print("error: no article store (--store or SEARCH_ARTICLE_STORE)", file=sys.stderr)
        return 2
    try:
        if args.cmd == "backup":
            n = store_backup.backup(args.store, args.dest)
            print(f"backed up {n} articles from {args.store} to {args.dest}", file=sys.stderr)
            return 0
        if args.cmd == "restore":
            if args.dry_run:
                plan = store_backup.plan_restore(args.source, args.store, as_is=args.as_is)
                print(f"a restore of {args.source} into {args.store} would:", file=sys.stderr)
                _print_plan(plan)
                return 0
            plan, saved = store_backup.restore(args.source, args.store, as_is=args.as_is)
            print(f"restored {args.source} into {args.store}" + (" as it is" if args.as_is else "")
                  + (f" (its previous content is in {saved})" if saved else "")
                  + f"; {plan.articles} articles; the writer applies this to the index:", file=sys.stderr)
            _print_plan(plan)
            return 0
        if not os.path.exists(args.store):
            print(f"error: no article store at {args.store}", file=sys.stderr)
            return 2
        for e in article_store.ArticleStore(args.store).audit_entries(args.id, 0, args.limit):
            e["at"] = dt.datetime.fromtimestamp(e["at"], dt.timezone.utc).isoformat(timespec="milliseconds")
            if args.json:
                print(json.dumps(e, ensure_ascii=False))
            else:
                print(f"{e['seq']:>6}  {e['at']}  {e['principal']:24}  {e['action']:8}  {e['id']}"
                      + (f"  ({e['detail']})" if e["detail"] else ""))
        return 0
    except (FileNotFoundError, FileExistsError, ValueError, article_store.StoreUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _print_plan(plan) -> None:
    """A restore's changes (``backup.RestorePlan``), by count and id."""
    lines = [("withdraw", plan.lacking, "article(s) the backup lacks"),
             ("bring back", plan.brought_back, "article(s) the current store does not hold"),
             ("replace", plan.changed, "article(s) by the backup's record")]
    if plan.as_is:
        lines.append(("bring back, as --as-is asks,", plan.withdrawals_kept,
                      "article(s) withdrawn after the backup (among those brought back)"))
    else:
        lines.append(("keep withdrawn", plan.withdrawals_kept,
                      "article(s) the backup holds that were withdrawn after it (--as-is would bring them back)"))
    for verb, ids, what in lines:
        print(f"  {verb} {len(ids)} {what}" + (f": {' '.join(ids)}" if ids else ""), file=sys.stderr)
