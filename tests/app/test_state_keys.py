"""Every session-state key is declared once, in ui/state.py, in one style ("<page>.<name>");
no module of the app spells a key out as a string (AST check of app.py, ui/ and pages/)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ui import state as keys

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / "ui" / "state.py"
STYLE = re.compile(r"^[a-z]+\.[a-z0-9]+(_[a-z0-9]+)*$")  # "train.config"
# A prefix of keys made per item ends in "." or "_": "train.", "plan.show_".
PREFIX_STYLE = re.compile(r"^[a-z]+\.([a-z0-9]+(_[a-z0-9]+)*_)?$")
ACCESSORS = {"get", "setdefault", "pop", "__setitem__", "__getitem__", "__contains__"}


def app_files() -> list[Path]:
    files = [REPO / "app.py", *sorted((REPO / "ui").glob("*.py")), *sorted((REPO / "pages").glob("*.py"))]
    return [f for f in files if f != STATE]


def is_text(node: ast.AST | None) -> bool:
    """A string spelled out in place: a literal, an f-string, or one glued to either."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return is_text(node.left) or is_text(node.right)
    return False


def is_session_state(node: ast.AST) -> bool:
    """`st.session_state`, `session_state` or the house alias `ss`."""
    if isinstance(node, ast.Attribute):
        return node.attr == "session_state"
    return isinstance(node, ast.Name) and node.id in ("ss", "session_state")


def literal_keys(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_session_state(node.value) and is_text(node.slice):
            found.append((node.lineno, "session_state[<string>]"))
        elif isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr in ACCESSORS
                and is_session_state(func.value)
                and node.args
                and is_text(node.args[0])
            ):
                found.append((node.lineno, f"session_state.{func.attr}(<string>)"))
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "persistent"
                and node.args
                and is_text(node.args[0])
            ):
                found.append((node.lineno, "persistent(<string>)"))
            found += [
                (node.lineno, "key=<string>") for kw in node.keywords if kw.arg == "key" and is_text(kw.value)
            ]
        elif isinstance(node, ast.Compare) and is_text(node.left):
            if any(isinstance(op, ast.In | ast.NotIn) for op in node.ops) and any(
                is_session_state(c) for c in node.comparators
            ):
                found.append((node.lineno, "<string> in session_state"))
    return found


def test_no_module_spells_out_a_session_key():
    offenders = [
        f"{path.relative_to(REPO)}:{line}: {what}"
        for path in app_files()
        for line, what in literal_keys(ast.parse(path.read_text(), str(path)))
    ]
    assert not offenders, "session-state keys belong in ui/state.py:\n" + "\n".join(offenders)


def test_the_check_catches_each_form():
    source = """
st.session_state["a"] = 1
st.session_state.get("b")
ss.setdefault("c", {})
ui.persistent("d", 0)
st.button("Go", key="e")
st.button("Go", key=f"f_{i}")
if "g" in st.session_state: pass
"""
    assert len(literal_keys(ast.parse(source))) == 7
    assert not literal_keys(ast.parse('st.button("Go", key=keys.TRAIN_START)\nsorted(x, key=len)'))


def declared() -> dict[str, str]:
    return {name: value for name, value in vars(keys).items() if name.isupper() and isinstance(value, str)}


def test_the_keys_are_unique_and_in_one_style():
    values = declared()
    assert len(values) > 100
    dupes = {v for v in values.values() if list(values.values()).count(v) > 1}
    assert not dupes, dupes
    for name, value in values.items():
        style = PREFIX_STYLE if name.endswith("_PREFIX") else STYLE
        assert style.match(value), f"{name} = {value!r} is not '<page>.<snake_case>'"
        page = value.split(".", 1)[0]
        assert name.startswith(page.upper() + "_"), f"{name} should start with {page.upper()}_"


def test_state_py_declares_only_keys():
    tree = ast.parse(STATE.read_text())
    assert ast.get_docstring(tree)
    for node in tree.body:
        if isinstance(node, ast.Assign):
            assert isinstance(node.value, ast.Constant) and isinstance(node.value.value, str), node.lineno


def test_the_item_keys_follow_their_prefix():
    assert keys.train_control("lr") == "train.lr"
    assert keys.tune_param("cnn", "lr").startswith(keys.TUNE_PREFIX)
    made = [keys.plan_show("c1"), keys.plan_delete("c1"), keys.tune_show("s"), keys.tune_more("s")]
    assert len(set(made)) == len(made)
