"""Every setting is declared once (cxrgan.config) and every surface is generated from it: the
`cxrgan train` parser, TOML loading, the --resume rules and help, and the sweep's axes."""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import tomllib

import pytest

from cxrgan.cli.main import build_parser, main
from cxrgan.cli.train import given_options, resume_help
from cxrgan.config import (
    BY_NAME,
    RESUMABLE,
    SETTINGS,
    TrainConfig,
    load_toml,
    typed_settings,
)
from cxrgan.errors import CxrganError
from cxrgan.models import MODELS
from cxrgan.settings import GROUPS, Setting, dump_toml, setting, settings_of
from cxrgan.sweep.grid import AXES, parse_values, separator


def _train_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def _setting_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.dest in BY_NAME]


def test_every_field_is_a_declared_setting():
    assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(TrainConfig)]
    for s in SETTINGS:
        assert s.help and len(s.help) > 10, s.name
        assert s.group in GROUPS, s.name
        assert isinstance(s.resumable, bool) and isinstance(s.sweepable, bool), s.name
        assert s.kind in (int, float, str, bool), s.name
        assert s.flag.startswith("--"), s.name
        assert s.optional == (s.default is None), s.name  # only None-default settings take None
        assert s.problem(s.default) is None, f"{s.name}'s default is not allowed"
    assert TrainConfig().validate() == TrainConfig()


def test_registries_give_the_choices():
    from cxrgan.data.preprocess import FIT_POLICIES
    from cxrgan.models import MODELS

    assert BY_NAME["model"].choices() == tuple(MODELS)
    assert BY_NAME["fit"].choices() == tuple(FIT_POLICIES)


def test_parser_has_one_option_per_setting_in_its_group():
    parser = _train_parser()
    actions = _setting_actions(parser)
    assert sorted(a.dest for a in actions) == sorted(BY_NAME)  # exactly one each
    for a in actions:
        s = BY_NAME[a.dest]
        assert s.flag in a.option_strings and a.default is None
        # the declared help (with "%" escaped for argparse), with choices and default appended
        assert s.help.replace("%", "%%") in a.help
        if s.default is not None:
            assert "default: " in a.help, s.name
    titles = {g.title: {a.dest for a in g._group_actions} for g in parser._action_groups}
    for group, title in GROUPS.items():
        assert titles.get(title, set()) == {s.name for s in SETTINGS if s.group == group}
    text = parser.format_help()
    assert "--model {dcgan" in text and "architecture (one of dcgan" in text


def test_flags_old_and_new_parse_as_settings():
    parse = _train_parser().parse_args
    argv = ["--hflip", "--no-cache", "--tensorboard", "--no-progress", "--g-lr", "1e-3",
            "--batch-size", "8", "--fit", "pad"]  # fmt: skip
    assert given_options(parse(argv)) == {"hflip": True, "cache": False, "tensorboard": True,
                                          "progress": False, "g_lr": 1e-3, "batch_size": 8,
                                          "fit": "pad"}  # fmt: skip
    assert given_options(parse(["--no-hflip", "--cache", "--progress"])) == {
        "hflip": False, "cache": True, "progress": True}  # fmt: skip
    assert given_options(parse([])) == {}


def test_resumable_is_what_the_declarations_say():
    assert {s.name for s in SETTINGS if s.resumable} == RESUMABLE
    # What a checkpoint fixes: the data, the images, the networks, Adam's betas, the batch, and
    # the privacy budget the noise was chosen for.
    fixed = {"data", "image_size", "fit", "hflip", "model", "nz", "ngf", "ndf", "loss", "augment",
             "d_spectral_norm", "ema_kimg", "ema_rampup", "r1_gamma", "recipe", "beta1", "beta2",
             "batch_size", "seed", "demo_images", "out", "conditional",
             "class_sampling", "labels", "labels_format", "classes", "multi_label", "uncertain",
             "view", "official_split", "path_column", "label_column", "label_separator",
             "patient_column", "view_column",
             "dp_epsilon", "dp_delta", "dp_max_grad_norm", "dp_ada_p"}  # fmt: skip
    assert fixed.isdisjoint(RESUMABLE) and fixed | RESUMABLE == set(BY_NAME)


def test_resume_help_lists_exactly_the_resumable_flags():
    text = resume_help()
    listed = text.split("may change: ")[1].split(" (")[0].split(", ")
    assert sorted(listed) == sorted(BY_NAME[name].flag for name in RESUMABLE)
    resume = next(a for a in _train_parser()._actions if a.dest == "resume")
    assert resume.help == text


def test_sweep_axes_are_the_sweepable_settings():
    assert list(AXES) == [s.name for s in SETTINGS if s.sweepable]
    assert {s.name for s in SETTINGS if not s.sweepable} == {"out", "progress"}
    for s in AXES.values():  # every axis parses and checks its values as train does
        choices = s.choices()
        sep = separator(s)  # ';' where one value is itself a comma list (--track, --classes)
        two = {int: ["2", "3"], float: ["0.5", "1e-3"], bool: ["true", "false"], str: ["a", "b"]}
        values = parse_values(s.name, sep.join(map(str, choices[:2] if choices else two[s.kind])))
        assert len(values) == 2 and all(type(v) is s.kind for v in values), s.name
        if s.kind in (int, float):
            with pytest.raises(CxrganError, match=f"^{s.flag} must "):
                parse_values(s.name, "2,-1")


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ('hflip = "no"', "hflip", "must be true or false, got 'no'"),
        ("epochs = 1.5", "epochs", "must be an integer, got 1.5"),
        ('g_lr = "1e-3"', "g_lr", "must be a number, got '1e-3'"),
        ("batch-size = 8.5", "batch-size", "must be an integer, got 8.5"),
        ("cache = 1", "cache", "must be true or false, got 1"),
        ("data = 3", "data", "must be a string, got 3"),
        ("epochs = true", "epochs", "must be an integer, got True"),
    ],
)
def test_toml_type_errors_name_the_file_and_key(tmp_path, line, key, expected):
    path = tmp_path / "c.toml"
    path.write_text(f"{line}\n")
    with pytest.raises(CxrganError) as info:
        load_toml(path)
    message = str(info.value)
    assert message == f"{path}: {key} {expected}"
    assert "\n" not in message


def test_toml_accepts_an_int_for_a_float_and_rejects_unknown_keys(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("g_lr = 1\nearly-stop-min-delta = 0\nepochs = 3\n")
    values = load_toml(path)
    assert values == {"g_lr": 1.0, "early_stop_min_delta": 0.0, "epochs": 3}
    assert type(values["g_lr"]) is float
    path.write_text("g_lrr = 1e-3\nfoo = 1\n")
    with pytest.raises(CxrganError, match=r"c\.toml: unknown setting\(s\): foo, g_lrr$"):
        load_toml(path)


def test_a_toml_type_error_is_one_line_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text('hflip = "no"\n')
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == f"cxrgan train: error: {path}: hflip must be true or false, got 'no'\n"
    assert not (tmp_path / "r").exists()


def test_from_dict_and_validate_check_types_too():
    with pytest.raises(CxrganError, match="epochs must be an integer, got '3'"):
        TrainConfig.from_dict({"epochs": "3"})
    with pytest.raises(CxrganError, match=r"--epochs must be an integer, got 2\.5"):
        TrainConfig(epochs=2.5).validate()
    assert typed_settings({"steps-per-epoch": None}) == {"steps_per_epoch": None}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image_size": 100}, "--image-size must be one of 32, 64, 128, 256, got 100"),
        ({"fit": "zoom"}, "--fit must be one of crop, pad, squash, got 'zoom'"),
        ({"model": "nope"}, f"--model must be one of {', '.join(MODELS)}, got 'nope'"),
        ({"g_lr": 0.0}, "--g-lr must be positive, got 0"),
        ({"beta1": 1.0}, "--beta1 must be below 1, got 1"),
        ({"batch_size": 0}, "--batch-size must be at least 1, got 0"),
        ({"steps_per_epoch": 0}, "--steps-per-epoch must be at least 1, got 0"),
        ({"workers": -1}, "--workers must not be negative, got -1"),
        ({"eval_n": 1}, "--eval-n must be at least 2, got 1"),
        ({"early_stop_patience": 2}, "--early-stop-patience needs --eval-every"),
        ({"g_lr": math.nan}, "--g-lr must be a finite number, got nan"),
        ({"d_lr": math.inf}, "--d-lr must be a finite number, got inf"),
        ({"beta2": -math.inf}, "--beta2 must be a finite number, got -inf"),
        ({"minutes": math.inf}, "--minutes must be a finite number, got inf"),
        ({"workers": 100_000}, "--workers must be at most 1024, got 100000"),
        ({"demo_images": 10**6}, "--demo-images must be at most 100000, got 1000000"),
        ({"seed": 2**64}, f"--seed must be at most {2**63 - 1}, got {2**64}"),
        ({"nz": 10**6}, "--nz must be at most 4096, got 1000000"),
    ],
)
def test_validation_comes_from_the_declarations(changes, message):
    with pytest.raises(CxrganError, match="^" + re.escape(message)):
        TrainConfig(**changes).validate()


def test_toml_writer_round_trips_scalars(tmp_path):
    values = {"g_lr": 1.2345e-4, "d_lr": 2e-4, "epochs": 3, "hflip": True, "cache": False,
              "data": 'C:\\x-ray "set"\tä', "early_stop_min_delta": 0.0,
              "cache_dir": None}  # fmt: skip
    text = dump_toml(values, header="line one\nline two")
    assert text.startswith("# line one\n# line two\n") and "cache_dir" not in text
    parsed = tomllib.loads(text)
    assert parsed == {k: v for k, v in values.items() if v is not None}
    assert all(type(parsed[k]) is type(v) for k, v in values.items() if v is not None)
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert load_toml(path) == parsed
    assert math.isinf(tomllib.loads(dump_toml({"x": math.inf}))["x"])


def test_declaring_a_setting_is_one_field():
    @dataclasses.dataclass
    class Toy:
        loss: str = setting("bce", "what G and D optimise", group="loss",
                            choices=lambda: ("bce", "hinge"))  # fmt: skip
        steps: int | None = setting(None, "how many steps", group="optim", min=1)

    loss, steps = settings_of(Toy)
    assert loss == Setting("loss", str, False, "bce", "what G and D optimise", "loss", False,
                           True, "--loss", loss.choices_of, None, None, None, None)  # fmt: skip
    assert loss.help_text() == "what G and D optimise (one of bce, hinge; default: bce)"
    assert loss.problem("wgan") == "must be one of bce, hinge, got 'wgan'"
    assert (steps.kind, steps.optional, steps.problem(None), steps.problem(0)) == (
        int, True, None, "must be at least 1, got 0")  # fmt: skip
    with pytest.raises(ValueError, match="unknown setting group"):
        setting(1, "x", group="nope")


@pytest.mark.parametrize("s", [s for s in SETTINGS if s.kind is float], ids=lambda s: s.name)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_no_float_setting_takes_nan_or_infinity(s, value):
    """NaN passes every comparison with a bound, and inf passes `min=0`: both are refused."""
    with pytest.raises(CxrganError, match=f"^{s.flag} must be a finite number, got {value}$"):
        TrainConfig(**{s.name: value}).validate()


def test_every_number_setting_declares_its_range():
    for s in SETTINGS:
        if s.kind in (int, float) and s.choices() is None:
            assert s.min is not None or s.above is not None, f"{s.name} has no lower bound"
        if s.kind is int:  # whatever their own bound, ints fit in 64 bits (torch's seeds)
            assert s.problem(2**63) is not None, s.name


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "+inf"])
def test_toml_non_finite_numbers_name_the_file_and_key(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(f"g_lr = {text}\n")
    with pytest.raises(CxrganError) as info:
        load_toml(path)
    shown = text.lstrip("+")
    assert str(info.value) == f"{path}: g_lr must be a finite number, got {shown}"


def test_toml_values_out_of_range_are_refused_when_read(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("d-lr = 0\n")
    with pytest.raises(CxrganError, match=r"c\.toml: d-lr must be positive, got 0$"):
        load_toml(path)
