#!/usr/bin/env python3
"""Checks that Python's pyarrow reads SparkMoE token shards (docs/shard-format.md) without any SparkMoE code.

usage: check_pyarrow_shards.py DATASET_VERSION_DIR EXPECTED_JSON [TOKENIZER_JSON]

EXPECTED_JSON comes from the Java side (org.sparkmoe.jobs.shards.PyarrowFixture): packed sequences as the Java reader
returned them and the source text of every document. Checked here, per shard: SHA-256 and length against the
manifest, the schema and its metadata, zero-copy memory-mapped reading, row and token counts, tokens per language;
then the packed sequences rebuilt from the flat token column; and, with TOKENIZER_JSON and HF `tokenizers`, that
every document decodes back to its source text. Prints one line per check and exits 1 on the first failure.
"""
import hashlib
import json
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        sys.exit(1)


def main():
    root, expected_path = sys.argv[1], sys.argv[2]
    tokenizer_path = sys.argv[3] if len(sys.argv) > 3 else None
    manifest = json.load(open(os.path.join(root, "manifest.json")))
    expected = json.load(open(expected_path))
    print(f"pyarrow {pa.__version__}; dataset {manifest['datasetVersion']} format "
          f"{manifest['format']} v{manifest['formatVersion']}")
    tok_sha = manifest["tokenizer"]["sha256"]
    eos = manifest["tokenizer"]["eosId"]
    hf = None
    if tokenizer_path:
        from tokenizers import Tokenizer
        hf = Tokenizer.from_file(tokenizer_path)
        with open(tokenizer_path, "rb") as f:
            check(hashlib.sha256(f.read()).hexdigest() == tok_sha, "tokenizer.json SHA-256 equals the manifest's")

    for split_name, split in manifest["splits"].items():
        flat = []
        decoded = 0
        for shard in split["shards"]:
            path = os.path.join(root, shard["path"])
            data = open(path, "rb").read()
            check(len(data) == shard["bytes"] and hashlib.sha256(data).hexdigest() == shard["sha256"],
                  f"{shard['path']}: length and SHA-256 match the manifest")
            before = pa.total_allocated_bytes()
            with pa.memory_map(path) as source:
                reader = ipc.open_file(source)
                table = reader.read_all()
                zero_copy = pa.total_allocated_bytes() == before
            schema = table.schema
            check(schema.names == ["tokens", "doc_id", "lang"]
                  and schema.field("tokens").type == pa.list_(pa.field("item", pa.int32(), nullable=False))
                  and schema.field("doc_id").type == pa.string() and schema.field("lang").type == pa.string(),
                  f"{shard['path']}: schema {schema.names} tokens=list<int32 not null>")
            meta = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
            check(meta.get("sparkmoe.tokenizer_sha256") == tok_sha and meta.get("sparkmoe.eos_id") == str(eos),
                  f"{shard['path']}: schema metadata names the manifest's tokenizer and EOS id")
            check(reader.num_record_batches == shard["recordBatches"],
                  f"{shard['path']}: {reader.num_record_batches} record batches")
            check(zero_copy, f"{shard['path']}: read_all from a memory map allocated nothing (zero-copy, uncompressed)")
            tokens = pc.list_flatten(table.column("tokens"))
            check(table.num_rows == shard["documents"] and len(tokens) == shard["tokens"],
                  f"{shard['path']}: {table.num_rows} documents, {len(tokens)} tokens")
            per_lang = {}
            for lang, doc in zip(table.column("lang").to_pylist(), table.column("tokens").to_pylist()):
                per_lang[lang] = per_lang.get(lang, 0) + len(doc)
            check(per_lang == shard["tokensPerLanguage"], f"{shard['path']}: tokens per language {per_lang}")
            if hf is not None:
                for doc_id, doc in zip(table.column("doc_id").to_pylist(), table.column("tokens").to_pylist()):
                    if doc[-1] != eos or hf.decode(doc[:-1], skip_special_tokens=False) != expected["texts"][doc_id]:
                        check(False, f"{shard['path']}: document {doc_id} decodes back to its source text")
                    decoded += 1
            flat.extend(tokens.to_pylist())
        if hf is not None:
            check(decoded == split["documents"], f"{split_name}: all {decoded} documents decode (HF tokenizers) back "
                  "to their source text, EOS last")
        if split_name == "train":
            seq_len = expected["seq_len"]
            check((len(flat) - 1) // seq_len == expected["sequence_count"],
                  f"train: {expected['sequence_count']} packed sequences of {seq_len}+1")
            for index, sequence in expected["sequences"].items():
                i = int(index)
                check(flat[i * seq_len:i * seq_len + seq_len + 1] == sequence,
                      f"train: packed sequence {i} equals the Java reader's")
    print("ALL CHECKS PASSED")


if __name__ == "__main__":
    main()
