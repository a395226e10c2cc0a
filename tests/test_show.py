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
