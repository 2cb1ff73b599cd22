"""`deskguard zendesk package-app`: the installable Zendesk app zip and its generated logos."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image

from connector.cli import cli
from connector.errors import BadRequest
from connector.panel import app_package
from connector.panel.logo import draw_logo, png_bytes, png_size

SIDECAR = "https://deskguard.acme-shop.com"


def build(cli_runner, tmp_path, *args):
    out = tmp_path / "app.zip"
    result = cli_runner.invoke(
        cli, ["zendesk", "package-app", "--out", str(out), *args], env={}, catch_exceptions=False
    )
    return result, out


def test_package_structure(cli_runner, tmp_path):
    result, out = build(cli_runner, tmp_path, "--sidecar-url", SIDECAR + "/")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["problems"] == [] and report["sidecar_url"] == SIDECAR
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {
            "manifest.json",
            "translations/en.json",
            "assets/logo.png",
            "assets/logo-small.png",
        } <= names
        manifest = json.loads(zf.read("manifest.json"))
        en = json.loads(zf.read("translations/en.json"))
        logos = {
            n: Image.open(io.BytesIO(zf.read(f"assets/{n}")))
            for n in ("logo.png", "logo-small.png")
        }

    assert manifest["frameworkVersion"] == "2.0"
    assert all(manifest["author"][k] for k in ("name", "email", "url"))
    sidebar = manifest["location"]["support"]["ticket_sidebar"]
    assert sidebar["url"] == SIDECAR + "/panel/app"
    assert manifest["domainWhitelist"] == ["deskguard.acme-shop.com"]
    params = {p["name"]: p for p in manifest["parameters"]}
    assert list(params) == [
        "sidecar_url",
        "api_token",
        "kill_switch",
        "default_mode",
        "auto_categories",
    ]
    assert params["api_token"]["secure"] is True and params["api_token"]["required"] is True
    assert not any(p.get("secure") for n, p in params.items() if n != "api_token")
    assert params["kill_switch"]["type"] == "checkbox" and params["kill_switch"]["default"] is False
    assert params["sidecar_url"] == {
        "name": "sidecar_url",
        "type": "url",
        "required": True,
        "default": SIDECAR,
    }
    assert (
        params["default_mode"]["default"] == "shadow" and params["auto_categories"]["default"] == ""
    )
    assert manifest["version"] == app_package.project_version()

    assert en["app"]["name"] == "Deskguard"
    assert set(en["app"]["parameters"]) == set(params)
    assert all(v["label"] and v["helpText"] for v in en["app"]["parameters"].values())

    assert logos["logo.png"].size == (320, 320) and logos["logo-small.png"].size == (128, 128)
    for img in logos.values():
        assert img.mode == "RGBA"
        w, h = img.size
        assert img.getpixel((0, 0))[3] == 0  # rounded corners are transparent
        assert (
            img.getpixel((w // 2, h // 12))[:3] != img.getpixel((w // 2, h // 2))[:3]
        )  # there is a picture


def test_builds_are_reproducible(tmp_path):
    a = app_package.build_package(tmp_path / "a.zip", SIDECAR)
    b = app_package.build_package(tmp_path / "b.zip", SIDECAR)
    assert a.read_bytes() == b.read_bytes()


def test_sidecar_url_is_required_and_must_be_https(cli_runner, tmp_path):
    result, out = build(cli_runner, tmp_path)
    assert result.exit_code != 0 and "DESKGUARD_PUBLIC_URL" in result.output and not out.exists()
    result, _ = build(cli_runner, tmp_path, "--sidecar-url", "http://deskguard.acme-shop.com")
    assert result.exit_code != 0 and "https" in result.output
    for bad in ("deskguard.acme-shop.com", "https://x.test/?a=1"):
        with pytest.raises(BadRequest):
            app_package.check_sidecar_url(bad)
    assert app_package.check_sidecar_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"


def test_public_url_setting_is_the_default(cli_runner, tmp_path):
    out = tmp_path / "app.zip"
    result = cli_runner.invoke(
        cli,
        ["zendesk", "package-app", "--out", str(out)],
        env={"DESKGUARD_PUBLIC_URL": SIDECAR},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        assert json.loads(zf.read("manifest.json"))["location"]["support"]["ticket_sidebar"][
            "url"
        ].startswith(SIDECAR)


def test_validator_catches_broken_packages():
    files = app_package.package_files(SIDECAR)
    assert app_package.validate_files(files) == []
    manifest = json.loads(files["manifest.json"])
    manifest["parameters"] = [p for p in manifest["parameters"] if p["name"] != "kill_switch"]
    manifest["parameters"][1]["secure"] = False  # api_token
    manifest["frameworkVersion"] = "1.0"
    manifest["domainWhitelist"] = []
    broken = {
        **files,
        "manifest.json": json.dumps(manifest).encode(),
        "assets/logo-small.png": png_bytes(draw_logo(64)),
    }
    del broken["translations/en.json"]
    problems = app_package.validate_files(broken)
    assert "missing translations/en.json" in problems
    assert "parameter kill_switch is missing" in problems
    assert "parameter api_token must be secure" in problems
    assert "frameworkVersion must be '2.0'" in problems
    assert any(p.startswith("domainWhitelist must include") for p in problems)
    assert "assets/logo-small.png is 64×64, expected 128×128" in problems


def test_committed_logos_match_the_generator():
    for name, size in (("logo.png", 320), ("logo-small.png", 128)):
        committed = (app_package.APP_DIR / "assets" / name).read_bytes()
        assert png_size(committed) == (size, size)
        pixels = Image.open(io.BytesIO(committed)).convert("RGBA").tobytes()
        assert pixels == draw_logo(size).tobytes(), (
            f"run `deskguard zendesk package-app --write-assets` ({name})"
        )


def test_png_writer_round_trips():
    img = draw_logo(16)
    decoded = Image.open(io.BytesIO(png_bytes(img)))
    assert decoded.size == (16, 16) and decoded.tobytes() == img.tobytes()
    with pytest.raises(ValueError):
        png_size(b"GIF89a" + b"\0" * 30)
