import pytest

import sslib
from sslib import info


def test_show_prints_source_outside_a_notebook(capsys):
    sslib.show(info.entropy)
    out = capsys.readouterr().out
    assert out.startswith("def entropy(")


def test_show_methods_are_dedented(capsys):
    from sslib.train import History

    sslib.show(History.last)
    assert capsys.readouterr().out.startswith("def last(")


def test_show_rejects_objects_without_source():
    with pytest.raises(TypeError, match="show"):
        sslib.show(3)


def test_show_without_docstring_keeps_the_code(capsys):
    from sslib import train

    sslib.show(train.fit, docstring=False)
    out = capsys.readouterr().out
    assert out.startswith("def fit(") and "Args:" not in out  # the long docstring is gone
    assert "train_step(" in out and "return history" in out  # the body is all there
    from sslib.show import source

    assert len(source(train.fit).splitlines()) > len(out.splitlines()) + 50
    sslib.show(info.entropy, docstring=False)  # a function without a long docstring works too
    assert capsys.readouterr().out.startswith("def entropy(")
