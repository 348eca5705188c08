"""The ``swarmstore`` command: mirrors the Python API verb for verb."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from swarmstore.errors import SwarmStoreError
from swarmstore.manager import SwarmDatabaseManager


def _cmd_demo(args: argparse.Namespace) -> int:
    from swarmstore.demo import run_demo

    run_demo(Path(args.root) if args.root else None, epochs=args.epochs)
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    with SwarmDatabaseManager.open(args.path) as db:
        for m in db.list_models(args.swarm):
            print(
                f"{m['swarm_id']}\t{m['model_id']}\t{m['versions']} version(s)\t{m['architecture']}"
            )
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    with SwarmDatabaseManager.open(args.path) as db:
        for v in db.list_model_versions(args.swarm, args.model):
            print(
                f"{v.version}\tparent={v.parent_version}\t{v.checkpoint_type}\traw={v.model_size}\tstored={v.stored_size}"
            )
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with SwarmDatabaseManager.open(args.path) as db:
        record = db.get_neural_model(args.swarm, args.model, args.version)
        out = record.to_json_dict()
        out["tensors"] = {
            name: {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape)}
            for name, t in record.weights.items()
        }
        print(json.dumps(out, indent=2, default=str))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    with SwarmDatabaseManager.open(args.path) as db:
        report = db.check()
    print(report)
    return 0 if report.ok else 1


def _cmd_migrate(args: argparse.Namespace) -> int:
    with SwarmDatabaseManager.open(args.path, mode="rw") as db:
        report = db.migrate()
    verb = "migrated" if report.migrated else "already at"
    found = f"{report.from_revision} -> " if report.migrated else ""
    print(
        f"{verb} schema {found}{report.to_revision} (format {report.format_version}): {args.path}"
    )
    return 0


def _cmd_reindex(args: argparse.Namespace) -> int:
    with SwarmDatabaseManager.open(args.path) as db:
        report = db.reindex()
        status = db.index_status()
    print(f"rebuilt {', '.join(report.rebuilt)} from SQL; watermarks {status}")
    return 0


def _cmd_gc(args: argparse.Namespace) -> int:
    with SwarmDatabaseManager.open(args.path) as db:
        report = db.gc(grace_seconds=args.grace)
    print(
        f"deleted {report.deleted} blob(s), freed {report.freed_bytes} bytes; "
        f"kept {report.kept_young} young unreferenced blob(s)"
    )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    with SwarmDatabaseManager.open(args.path) as db:
        out = db.export_safetensors(args.swarm, args.model, args.version, args.out)
    print(out)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    record = {"id": args.model, "version": args.version, "architecture": args.architecture}
    if args.parent:
        record["parentVersion"] = args.parent
    with SwarmDatabaseManager.open(args.path) as db:
        stored = db.import_safetensors(args.swarm, args.file, record)
    print(
        f"stored {stored.id} {stored.version}: {stored.metadata.model_size} raw bytes, "
        f"{stored.metadata.stored_size} new stored bytes"
    )
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    with SwarmDatabaseManager.open(args.path) as db:
        result = db.delete_model_version(args.swarm, args.model, args.version)
    print(f"deleted {args.model} {args.version}; {result['chunks_freed']} chunk(s) freed (run gc)")
    return 0


def _cmd_copy(args: argparse.Namespace) -> int:
    from swarmstore.maintenance.copy import copy_store

    def say(msg: str) -> None:
        print(msg, file=sys.stderr)

    report = copy_store(args.src, args.dst, progress=say)
    say("rebuilding indexes and checking")
    with SwarmDatabaseManager.open(args.dst) as db:
        report.reindexed = list(db.reindex().rebuilt)
        result = db.check()
    report.check, report.ok = str(result), result.ok
    print(report)
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swarmstore", description="Versioned, verified storage of neural-model checkpoints."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="train a small model, store a version per epoch, restore and verify each"
    )
    demo.add_argument("--root", help="store directory (default: a temporary one)")
    demo.add_argument("--epochs", type=int, default=5, help="epochs to train (one version each)")
    demo.set_defaults(func=_cmd_demo)

    models = sub.add_parser("models", help="list the models of a store")
    models.add_argument("path", help="store directory")
    models.add_argument("--swarm", help="only this swarm")
    models.set_defaults(func=_cmd_models)

    versions = sub.add_parser("versions", help="list the versions of a model")
    for name, text in (("path", "store directory"), ("swarm", "swarm id"), ("model", "model id")):
        versions.add_argument(name, help=text)
    versions.set_defaults(func=_cmd_versions)

    show = sub.add_parser("show", help="show a version's record and tensor layout as JSON")
    for name, text in (("path", "store directory"), ("swarm", "swarm id"), ("model", "model id")):
        show.add_argument(name, help=text)
    show.add_argument("version", nargs="?", help="version (default: latest)")
    show.set_defaults(func=_cmd_show)

    check = sub.add_parser(
        "check", help="verify SQL integrity and every blob's hash; exit 1 on problems"
    )
    check.add_argument("path", help="store directory")
    check.set_defaults(func=_cmd_check)

    migrate = sub.add_parser(
        "migrate",
        help="upgrade an existing store's schema to this version's (db.migrate()); "
        "run it before opening the store read-only with a newer swarmstore",
    )
    migrate.add_argument("path", help="store directory (or its swarmstore.toml)")
    migrate.set_defaults(func=_cmd_migrate)

    reindex = sub.add_parser(
        "reindex", help="rebuild the lineage graph and vector index from SQL (db.reindex())"
    )
    reindex.add_argument("path", help="store directory")
    reindex.set_defaults(func=_cmd_reindex)

    gc = sub.add_parser("gc", help="delete unreferenced blobs older than a grace period")
    gc.add_argument("path", help="store directory")
    gc.add_argument(
        "--grace",
        type=float,
        default=None,
        help="grace period in seconds (default from config: 3600)",
    )
    gc.set_defaults(func=_cmd_gc)

    export = sub.add_parser("export", help="export a version as a .safetensors file")
    for name, text in (
        ("path", "store directory"),
        ("swarm", "swarm id"),
        ("model", "model id"),
        ("version", "version"),
        ("out", "output .safetensors path"),
    ):
        export.add_argument(name, help=text)
    export.set_defaults(func=_cmd_export)

    remove = sub.add_parser(
        "delete", help="delete a version (later versions still restore); gc frees its blobs"
    )
    for name, text in (
        ("path", "store directory"),
        ("swarm", "swarm id"),
        ("model", "model id"),
        ("version", "version"),
    ):
        remove.add_argument(name, help=text)
    remove.set_defaults(func=_cmd_delete)

    imp = sub.add_parser("import", help="store a .safetensors file as a new version")
    for name, text in (
        ("path", "store directory"),
        ("swarm", "swarm id"),
        ("file", ".safetensors file"),
    ):
        imp.add_argument(name, help=text)
    imp.add_argument("--model", required=True, help="model id")
    imp.add_argument("--version", required=True, help="version name")
    imp.add_argument("--parent", help="parent version (enables deltas)")
    imp.add_argument("--architecture", default="", help="architecture label")
    imp.set_defaults(func=_cmd_import)

    copy = sub.add_parser(
        "copy",
        help="copy a whole store (SQL, blobs; indexes rebuilt) into an empty one, e.g. "
        "embedded <-> PostgreSQL+S3; runs check on the destination, exit 1 on problems",
    )
    copy.add_argument("src", help="source: store directory or swarmstore.toml")
    copy.add_argument("dst", help="destination: store directory or swarmstore.toml (empty)")
    copy.set_defaults(func=_cmd_copy)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SwarmStoreError as exc:
        print(f"swarmstore: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
