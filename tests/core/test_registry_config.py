import subprocess
import sys
import textwrap

import pytest

from facevoice.core.config import ConfigError, apply_overrides, deep_merge, dump_config, load_config
from facevoice.core.registry import Registry, UnknownNameError


def test_registry_create_and_unknown_lists_valid():
    reg = Registry("widget")

    @reg.register("alpha")
    class Alpha:
        def __init__(self, x=1):
            self.x = x

    reg.register("beta", "collections:OrderedDict")
    assert reg.create("alpha", x=3).x == 3
    assert reg.get("BETA").__name__ == "OrderedDict"
    assert reg.names() == ["alpha", "beta"] and "alpha" in reg and len(reg) == 2
    with pytest.raises(KeyError, match="valid widgets: alpha, beta"):
        reg.get("gamma")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alpha", dict)
    with pytest.raises(ValueError, match=r"^widget 'alpha': unknown argument\(s\) \['y'\]; valid: \['x'\]$"):
        reg.create("alpha", y=2)
    assert reg.get("collections:Counter").__name__ == "Counter"  # module:attr names are imported directly
    reg.unregister("beta")
    assert reg.names() == ["alpha"]


def test_unknown_name_error_prints_one_plain_line():
    err = UnknownNameError("unknown loss 'x'; valid losses: a, b")
    assert isinstance(err, KeyError) and isinstance(err, ValueError)
    assert str(err) == "unknown loss 'x'; valid losses: a, b"  # a bare KeyError would add quotes


def test_registry_imports_its_package_on_first_lookup_only(tmp_path):
    """Entries registered beside their classes: importing the package registers nothing, a lookup finds all."""
    pkg = tmp_path / "plugpkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    registry = "from facevoice.core.registry import Registry\nTHINGS = Registry('thing', 'plugpkg')\n"
    (pkg / "registry.py").write_text(registry)
    body = "from plugpkg.registry import THINGS\n\n@THINGS.register('{0}')\nclass C:\n    pass\n"
    (pkg / "one.py").write_text(body.format("one"))
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "two.py").write_text(body.format("two"))
    script = textwrap.dedent(
        """
        import sys
        from plugpkg.registry import THINGS
        assert "plugpkg.one" not in sys.modules and len(THINGS._entries) == 0
        assert THINGS.get("two").__module__ == "plugpkg.sub.two"
        assert THINGS.names() == ["one", "two"] and "one" in THINGS
        """
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_overrides_types_and_nesting():
    cfg = {"train": {"lr": 0.1, "epochs": 5}, "method": {"name": "fop"}}
    out = apply_overrides(cfg, ["train.lr=1e-4", "train.epochs=3", "method.fusion=gated", "new.flag=true", "x=[1,2]"])
    assert out["train"] == {"lr": 1e-4, "epochs": 3}
    assert out["method"] == {"name": "fop", "fusion": "gated"}
    assert out["new"]["flag"] is True and out["x"] == [1, 2]
    assert cfg["train"]["lr"] == 0.1  # input untouched
    with pytest.raises(ConfigError):
        apply_overrides(cfg, ["nokey"])
    with pytest.raises(ConfigError, match="is a value"):
        apply_overrides(cfg, ["method.name.sub=1"])


def test_load_config_with_base_and_dump(tmp_path):
    (tmp_path / "base.yaml").write_text("train: {lr: 0.01, epochs: 50}\nmethod: {name: fop}\n")
    (tmp_path / "r.yaml").write_text("base: base.yaml\ntrain: {epochs: 2}\n")
    cfg = load_config(tmp_path / "r.yaml", ["train.lr=0.5"])
    assert cfg == {"train": {"lr": 0.5, "epochs": 2}, "method": {"name": "fop"}}
    dump_config(cfg, tmp_path / "out" / "resolved.yaml")
    assert load_config(tmp_path / "out" / "resolved.yaml") == cfg
    assert deep_merge({"a": {"b": 1}}, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}
    (tmp_path / "bad.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize("package", ["heads", "losses", "methods", "encoders"])
def test_importing_a_registry_package_is_cheap(package):
    script = f"import sys, facevoice.{package}; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
