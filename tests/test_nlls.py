"""``Backend.nlls``: per-text NLL from a token on, in batches of texts of unequal length."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model


def test_a_texts_nll_from_a_token_on_is_the_whole_less_its_head(backend) -> None:
    head = backend.chat_text([{"role": "user", "content": "Where do I live?"}])
    texts = [
        head + "Porto.<|im_end|>",
        "The cat sat on the mat, and then it slept for most of the afternoon.",
        "Hi.",
    ]
    n_head = len(backend.encode(head))
    assert backend.encode(texts[0])[:n_head] == backend.encode(head)
    tail, whole, alone = backend.nlls([texts[0], texts[0], head], starts=[n_head, 1, 1])
    assert tail[1] == len(backend.encode(texts[0])) - n_head
    assert tail[0] == pytest.approx(whole[0] - alone[0], rel=1e-4)
    # batched beside longer and shorter texts, each text's figure is its own
    batched = backend.nlls(texts)
    for text, got in zip(texts, batched):
        (single,) = backend.nlls([text])
        assert got[1] == single[1] == len(backend.encode(text)) - 1
        assert got[0] == pytest.approx(single[0], rel=1e-4)
    assert backend.nll(texts) == pytest.approx(
        (sum(n for n, _ in batched), sum(c for _, c in batched))
    )
    # a start past the text counts nothing
    assert backend.nlls(["Hi."], starts=[50]) == [(0.0, 0)]


def test_an_answers_nll_is_the_same_across_a_seam_the_tokenizer_merges(engine) -> None:
    from sleepmem.engine.backends.base import EditPrompt, Factors

    backend = engine.backend
    seamless = EditPrompt(backend.chat_text([{"role": "user", "content": "Hi?"}]), -1, "Porto.", 0)
    merged = EditPrompt("The answer is what", -1, "ever you like.", 0)  # "what"+"ever"
    assert backend.encode(merged.text + merged.target)[: backend.token_count(merged.text)] != (
        backend.encode(merged.text)
    )
    none = Factors({})
    got = engine._answer_nll([seamless, merged], none)
    for p, value in zip([seamless, merged], got):
        whole, head = backend.nll([p.text + p.target])[0], backend.nll([p.text])[0]
        assert value == pytest.approx(whole - head, rel=1e-4, abs=1e-3)


def test_the_base_nll_is_measured_once_and_again_for_other_weights(
    backend, tmp_path, monkeypatch
) -> None:
    """``statistics.base_nll`` keeps the unedited model's NLL of the validation texts on
    disk; a model that scores the probe text differently (new weights behind the same id)
    measures the texts again instead of reading another model's figure."""
    import json

    from sleepmem.engine import statistics

    texts = ("The cat sat on the mat.", "Rain is expected in Bergen tomorrow.")
    first = statistics.base_nll(backend, texts, tmp_path)
    assert first == pytest.approx(backend.nll(list(texts), None))
    asked: list[list[str]] = []
    real = backend.nll

    def counted(batch, factors=None):
        asked.append(list(batch))
        return real(batch, factors)

    monkeypatch.setattr(backend, "nll", counted)
    assert statistics.base_nll(backend, texts, tmp_path) == first
    assert asked == [[statistics.NLL_PROBE]]  # the probe alone: the texts came from disk
    (path,) = tmp_path.glob("*base-nll*.json")
    held = json.loads(path.read_text())
    path.write_text(json.dumps({**held, "probe": held["probe"] + 0.5, "nll": 1.0}))
    asked.clear()
    assert statistics.base_nll(backend, texts, tmp_path) == pytest.approx(first)
    assert list(texts) in asked
    path.write_text("{not json")
    assert statistics.base_nll(backend, texts, tmp_path) == pytest.approx(first)
