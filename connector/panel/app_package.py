"""Build the installable Zendesk app zip from ``connector/panel/zendesk_app/``.

The directory holds the manifest, translations and the generated logos. The manifest asks for
``signedUrls`` (Zendesk then POSTs the panel's first page with a signed token naming the agent;
``launch.py``). The build points the ``ticket_sidebar`` location and ``domainWhitelist`` at the
sidecar's public URL, sets the ``sidecar_url`` parameter's default, stamps the project version,
redraws the logos (so the zip never ships stale art) and checks the result with
``validate_package`` — the checks Zendesk's own validator is documented to make
(docs/vendors/zendesk.md), which cannot be called offline.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connector.errors import BadRequest
from connector.panel.logo import SIZES, logo_png, png_size

# The app's sources ship inside the package, so `deskguard zendesk package-app` works from an
# installed wheel as well as from a clone.
APP_DIR = Path(__file__).resolve().parent / "zendesk_app"
PANEL_PATH = "/panel/app"
REQUIRED_FILES = (
    "manifest.json",
    "translations/en.json",
    "assets/logo.png",
    "assets/logo-small.png",
)
PARAMETERS = {  # name -> (type, secure): the Zendesk emulator and the pipeline read these names
    "sidecar_url": ("url", False),
    "api_token": ("text", True),
    "kill_switch": ("checkbox", False),
    "default_mode": ("text", False),
    "auto_categories": ("text", False),
}
# A zip entry's date; fixed so two builds of the same inputs are byte-identical.
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


def check_sidecar_url(url: str) -> str:
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise BadRequest(
            "the sidecar URL must be absolute, e.g. https://deskguard.example.com "
            "(set DESKGUARD_PUBLIC_URL or pass --sidecar-url)"
        )
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not local:
        raise BadRequest("Zendesk loads the side panel over https only: use an https sidecar URL")
    if parts.query or parts.fragment:
        raise BadRequest("the sidecar URL must not have a query or fragment")
    return url


def build_manifest(template: dict[str, Any], sidecar_url: str, version: str) -> dict[str, Any]:
    manifest = copy.deepcopy(template)
    sidecar_url = check_sidecar_url(sidecar_url)
    manifest["version"] = version
    manifest["location"]["support"]["ticket_sidebar"]["url"] = sidecar_url + PANEL_PATH
    manifest["domainWhitelist"] = [urlsplit(sidecar_url).hostname]
    for param in manifest["parameters"]:
        if param["name"] == "sidecar_url":
            param["default"] = sidecar_url
    return manifest


def project_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deskguard")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def package_files(
    sidecar_url: str, *, app_dir: Path = APP_DIR, version: str | None = None
) -> dict[str, bytes]:
    template = json.loads((app_dir / "manifest.json").read_text())
    manifest = build_manifest(template, sidecar_url, version or project_version())
    files = {
        "manifest.json": (json.dumps(manifest, indent=2) + "\n").encode(),
        "translations/en.json": (app_dir / "translations" / "en.json").read_bytes(),
    }
    for name, size in SIZES.items():
        files[f"assets/{name}"] = logo_png(size)
    return files


def write_zip(files: dict[str, bytes], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name])
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(out)  # never leave a half-written zip behind
    return out


def build_package(out: Path, sidecar_url: str, *, app_dir: Path = APP_DIR) -> Path:
    files = package_files(sidecar_url, app_dir=app_dir)
    problems = validate_files(files)
    if problems:
        raise BadRequest("the app package is not valid: " + "; ".join(problems))
    return write_zip(files, out)


def write_assets(app_dir: Path = APP_DIR) -> list[Path]:
    """Redraw the logos in the app directory (they are committed so zcli can serve the app)."""
    written = []
    for name, size in SIZES.items():
        path = app_dir / "assets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = logo_png(size)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
            written.append(path)
    return written


def validate_files(files: dict[str, bytes]) -> list[str]:
    """Structural checks of an app package; returns the problems found (empty when valid)."""
    problems = [f"missing {name}" for name in REQUIRED_FILES if name not in files]
    if "manifest.json" in files:
        try:
            manifest = json.loads(files["manifest.json"])
        except ValueError as exc:
            return [*problems, f"manifest.json is not JSON: {exc}"]
        problems += _manifest_problems(manifest)
    for name, size in SIZES.items():
        data = files.get(f"assets/{name}")
        if data is None:
            continue
        try:
            dims = png_size(data)
        except ValueError:
            problems.append(f"assets/{name} is not a PNG")
            continue
        if dims != (size, size):
            problems.append(f"assets/{name} is {dims[0]}×{dims[1]}, expected {size}×{size}")
    if "translations/en.json" in files:
        try:
            app = json.loads(files["translations/en.json"]).get("app", {})
        except ValueError:
            return [*problems, "translations/en.json is not JSON"]
        for key in ("name", "short_description", "long_description", "installation_instructions"):
            if not app.get(key):
                problems.append(f"translations/en.json lacks app.{key}")
        labels = app.get("parameters", {})
        problems += [
            f"translations/en.json lacks a label for {name}"
            for name in PARAMETERS
            if not labels.get(name, {}).get("label")
        ]
    return problems


def _manifest_problems(m: dict[str, Any]) -> list[str]:
    problems = []
    if m.get("frameworkVersion") != "2.0":
        problems.append("frameworkVersion must be '2.0'")
    if m.get("signedUrls") is not True:
        # Without it Zendesk sends no signed token and the panel cannot know who the agent is
        # ("Building a server-side app - Part 5: Securing the app", "Enabling the ZAF JWT").
        problems.append("signedUrls must be true (the panel verifies the agent from it)")
    author = m.get("author") or {}
    problems += [f"author.{k} is required" for k in ("name", "email", "url") if not author.get(k)]
    sidebar = (m.get("location") or {}).get("support", {}).get("ticket_sidebar", {})
    url = sidebar.get("url", "") if isinstance(sidebar, dict) else ""
    if not url.endswith(PANEL_PATH):
        problems.append(f"location.support.ticket_sidebar.url must point at {PANEL_PATH}")
    host = urlsplit(url).hostname
    if host and host not in (m.get("domainWhitelist") or []):
        problems.append(
            f"domainWhitelist must include {host} (secure settings are only sent there)"
        )
    params = {p.get("name"): p for p in m.get("parameters") or []}
    for name, (kind, secure) in PARAMETERS.items():
        p = params.get(name)
        if p is None:
            problems.append(f"parameter {name} is missing")
            continue
        if p.get("type") != kind:
            problems.append(f"parameter {name} must have type {kind}")
        if bool(p.get("secure")) != secure:
            problems.append(f"parameter {name} must {'' if secure else 'not '}be secure")
    return problems


def validate_zip(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return validate_files({name: zf.read(name) for name in zf.namelist()})
