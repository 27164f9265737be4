"""The hostile corpus (tests/unit/hostile.py) through the loader and the synthesizers: every
file is refused with a message or renders; none crashes or hangs, and no payload with a
character that changes a config file's meaning reaches one verbatim."""

from __future__ import annotations

import time
from collections import Counter

import yaml
from hostile import corpus

from phasestack.stackfile import StackError, load
from phasestack.synth import synthesize
from phasestack.synth.secrets import CREDENTIALS

# characters that change the meaning of nginx.conf, pgbouncer.ini, redis.conf,
# postgresql.conf or a shell script when a value is written into them verbatim
SPECIAL = ("\n", ";", "{", "}", "'", "`", "$(", "%", "\x00", " ")


def _config_texts(docs: list[dict]):
    """(ConfigMap/key, text) of every config file but JSON (Grafana's dashboards escape)."""
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            for key, text in doc.get("data", {}).items():
                if not key.endswith(".json"):
                    yield f"{doc['metadata']['name']}/{key}", text


def test_hostile_corpus_is_refused_or_rendered_safely(tmp_path):
    values = {c: "x" * 32 for c in CREDENTIALS}
    counts: Counter[str] = Counter()
    problems: list[str] = []
    accepted: list[str] = []
    for i, (label, doc, payload) in enumerate(corpus()):
        path = tmp_path / f"Pulumi.h{i}.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True))
        counts["tried"] += 1
        started = time.perf_counter()
        try:
            stack = load(str(path)).stack
            docs = synthesize(stack, values)
        except StackError as err:
            counts["refused"] += 1
            assert all(m.startswith(f"{path}: ") for m in err.problems), err.problems
            continue
        except Exception as exc:  # noqa: BLE001 - counting is the point
            counts["tracebacks"] += 1
            problems.append(f"{label}: {type(exc).__name__}: {exc}"[:300])
            continue
        finally:
            if time.perf_counter() - started > 2.0:
                counts["over 2 s"] += 1
                problems.append(f"{label}: took {time.perf_counter() - started:.1f} s")
        counts["rendered"] += 1
        accepted.append(label)
        if isinstance(payload, str) and any(s in payload for s in SPECIAL):
            for where, text in _config_texts(docs):
                if payload in text:
                    counts["dangerous accepted"] += 1
                    problems.append(f"{label}: {payload!r} reached {where} verbatim")
    print("hostile corpus: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    print("accepted fields: " + ", ".join(sorted({a.split("#")[0] for a in accepted})))
    assert counts["tried"] == counts["refused"] + counts["rendered"] + counts["tracebacks"]
    assert counts["tried"] > 1000
    assert (counts["tracebacks"], counts["over 2 s"], counts["dangerous accepted"]) == (0, 0, 0), \
        "\n".join(problems[:20])
