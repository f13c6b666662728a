"""``sleepmem bench levers``: what each variant writes and how variants are named (no model)."""

import pytest
from click.testing import CliRunner
from sleepmem.adapters.cli import build_cli
from sleepmem.engine.bench import nested_overrides
from sleepmem.engine.bench_levers import facts_note, final_facts, with_note


def test_final_facts_keep_the_last_answer_and_leave_out_forgotten_ones():
    user = {
        "turns": [
            {"facts": [{"q": "Where do I live?", "answer": "Lima"}]},
            {"facts": [{"q": "What is my job?", "answer": "baker"}]},
            {"facts": [{"q": "Where do I live?", "answer": "Cusco"}]},
            {"facts": [{"q": "What is my salary?", "answer": "a lot"}]},
        ],
        "forgotten": [{"q": "What is my salary?", "forbid": ["a lot"]}],
    }
    assert final_facts(user) == [("Where do I live?", "Cusco"), ("What is my job?", "baker")]


def test_overrides_need_a_section():
    assert nested_overrides({"editor.layers": [1], "editor.contexts": 2}) == {
        "editor": {"layers": [1], "contexts": 2}
    }
    with pytest.raises(ValueError):
        nested_overrides({"layers": [1]})


@pytest.mark.parametrize("spec", ["late", "late={not json", "={}", "late=[1]"])
def test_a_malformed_variant_is_refused_before_any_model_loads(tmp_path, spec):
    bench = tmp_path / "b.json"
    bench.write_text('{"users": [], "contexts": []}')
    result = CliRunner().invoke(
        build_cli(with_plugins=False),
        [
            "bench",
            "levers",
            "--bench",
            str(bench),
            "--json",
            str(tmp_path / "o.json"),
            "--variant",
            spec,
        ],
    )
    assert result.exit_code != 0
    assert "--variant" in result.output


def test_the_in_context_reference_adds_the_facts_to_any_system_prompt():
    note = facts_note([("Where do I live?", "Cusco"), ("What is my job?", "baker")])
    assert "Where do I live? Cusco" in note and "What is my job? baker" in note
    asked = {"role": "user", "content": "Where do I live?"}
    persona = {"role": "system", "content": "You are Luna, a witch."}
    assert with_note([asked], note) == [{"role": "system", "content": note}, asked]
    stuffed = with_note([persona, asked], note)
    assert stuffed[0]["content"].startswith("You are Luna") and note in stuffed[0]["content"]
    assert stuffed[1:] == [asked]
    assert with_note([persona, asked], None) == [persona, asked]
