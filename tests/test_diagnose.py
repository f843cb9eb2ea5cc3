"""diagnose: the corpus of real error texts (tests/data/errors, each with its issue URL), rules, the CLI."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybootstrap import cli
from pybootstrap.diagnose import Finding, cuda_from_code, diagnose_text, guess_os, variants_for
from pybootstrap.failures import KINDS, normalize
from pybootstrap.manifest import load_manifest

ERRORS = Path(__file__).parent / "data" / "errors"
INDEX: List[Dict[str, Any]] = json.loads((ERRORS / "INDEX.json").read_text(encoding="utf-8"))
MANIFEST = load_manifest(None)
CONTRACT_KINDS = {"driver-too-old", "no-kernel-image", "arch-unsupported", "torch-not-cuda-build", "no-nvidia-driver",
                  "unknown", "nvidia-smi-not-found", "driver-not-loaded", "driver-library-mismatch", "no-devices",
                  "gpu-unavailable", "timeout", "unparseable"}
# facts the rules extract, per kind; compared with INDEX.json wherever the corpus records them
EXTRACTED = {
    "driver-too-old": {"found_driver_cuda", "found_version_raw", "driver_version", "cuda_error_code"},
    "arch-unsupported": {"gpu_name", "gpu_arch", "supported_archs", "gpu_capability", "min_supported_capability"},
    "driver-library-mismatch": {"nvml_library_version"},
    "dll-load-failed": {"dll", "win_error"},
    "no-matching-distribution": {"requested", "available_versions", "index_url"},
    "cuda-out-of-memory": {"tried_to_allocate", "total_capacity"},
    "torch-not-cuda-build": {"os"},
    "nvidia-smi-not-found": {"os"},
}


def read(name: str) -> str:
    return (ERRORS / name).read_text(encoding="utf-8")


# --- the corpus -------------------------------------------------------------------------------------

def test_corpus_index_is_complete_and_sourced():
    files = sorted(p.name for p in ERRORS.glob("*.txt"))
    assert sorted(e["file"] for e in INDEX) == files
    assert len(INDEX) >= 10
    for entry in INDEX:
        assert re.match(r"https://github\.com/[^/]+/[^/]+/(issues|pull|discussions)/\d+", entry["source_url"]), entry
        assert entry["kind"] in set(KINDS) | {"unknown"}


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"] for e in INDEX])
def test_corpus_text_is_diagnosed_as_its_kind(entry):
    findings = diagnose_text(read(entry["file"]), MANIFEST)
    found = [f.kind for f in findings]
    assert found[0] == entry["kind"]
    assert set(entry["also"]) <= set(found)
    assert set(found) <= {entry["kind"], *entry["also"]}, f"claims kinds not in the text: {found}"
    first = findings[0]
    for key in EXTRACTED.get(entry["kind"], set()) & set(entry["facts"]):
        assert first.facts.get(key) == entry["facts"][key], key
    assert first.message and first.advice


@pytest.mark.parametrize("entry", [e for e in INDEX if e["kind"] != "unknown"],
                         ids=[e["file"] for e in INDEX if e["kind"] != "unknown"])
def test_corpus_advice_is_concrete(entry):
    finding = diagnose_text(read(entry["file"]), MANIFEST)[0]
    advice = finding.advice
    kind = entry["kind"]
    if kind == "driver-too-old":
        for major in (12, 13):
            for os_name, floor in MANIFEST.cuda_families[major].min_driver.items():
                assert f"{floor} or newer on {os_name.capitalize()}" in advice
        assert {"528.33", "525.60.13", "580.88", "580.65.06"} <= set(re.findall(r"\d+\.\d+(?:\.\d+)?", advice))
    elif kind == "arch-unsupported":
        sm = finding.facts.get("gpu_arch") or "sm_" + finding.facts["gpu_capability"].replace(".", "")
        assert sm in advice
        if sm in ("sm_120", "sm_86"):
            assert_variants_have(advice, sm)
        else:  # Kepler / Fermi: no current build, so the CPU build is named
            assert "--variant cpu" in advice
    elif kind == "long-path":
        assert "LongPathsEnabled" in advice
    elif kind == "dll-load-failed":
        assert "Visual C++ Redistributable" in advice and "vc_redist.x64.exe" in advice
    elif kind == "driver-library-mismatch":
        assert advice.startswith("Reboot")
    elif kind == "no-kernel-image":
        assert "sm_120" in advice and "TORCH_CUDA_ARCH_LIST" in advice
    elif kind == "torch-not-cuda-build":
        assert ("mps" in advice) if finding.facts.get("os") == "macOS" else ("pybootstrap install" in advice)
    elif kind == "torchvision-mismatch":
        assert "pybootstrap install" in advice and "torchvision" in advice
    assert advice != diagnose_text("", MANIFEST)[0].advice


def assert_variants_have(advice: str, sm: str) -> None:
    """Every 'torch X with cuA or cuB' in the advice names variants that really hold code for sm."""
    digits = sm[3:]
    cc = (int(digits[:-1]), int(digits[-1]))
    groups = re.findall(r"torch (\S+) with ((?:cu\d+)(?: or cu\d+)*)", advice)
    assert groups, advice
    for version, names in groups:
        release = next(r for r in MANIFEST.releases if str(r.torch) == version)
        for name in names.split(" or "):
            archs = release.variant(name).archs.values()
            assert any(any(m == cc[0] and n <= cc[1] for m, n in a.sass) for a in archs), (version, name)


def test_unknown_3_is_not_claimed_and_asks_for_verify():
    findings = diagnose_text(read("unknown-3.txt"), MANIFEST)
    assert [f.kind for f in findings] == ["unknown"]
    assert "pybootstrap verify" in findings[0].advice


# --- focused rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code, cuda", [("11040", "11.4"), ("11000", "11.0"), ("9000", "9.0"), ("12020", "12.2"),
                                        ("13000", "13.0"), ("10010", "10.1")])
def test_cuda_from_code(code, cuda):
    assert cuda_from_code(code) == cuda


def test_driver_too_old_offers_a_build_for_the_found_cuda():
    text = "The NVIDIA driver on your system is too old (found version 12020)."
    finding = diagnose_text(text, MANIFEST)[0]
    assert finding.kind == "driver-too-old"
    assert "the driver supports CUDA up to 12.2" in finding.message
    match = re.search(r"Or keep this driver and install a CUDA 12\.x build: torch (\S+) with ([\w ]+)\.",
                      finding.advice)
    assert match, finding.advice
    release = next(r for r in MANIFEST.releases if str(r.torch) == match.group(1))
    for name in match.group(2).split(" or "):
        assert release.variant(name).cuda.major == 12


def test_driver_too_old_without_a_manifest_still_names_drivers():
    advice = diagnose_text("CUDA driver version is insufficient for CUDA runtime version")[0].advice
    for version in ("528.33", "525.60.13", "580.88", "580.65.06"):
        assert version in advice


def test_arch_for_a_gpu_no_build_supports():
    finding = diagnose_text("Found GPU0 GeForce GTX 670M which is of cuda capability 2.1.\n"
                            "PyTorch no longer supports this GPU because it is too old.", MANIFEST)[0]
    assert finding.kind == "arch-unsupported"
    assert finding.facts == {"gpu_name": "GeForce GTX 670M", "gpu_capability": "2.1"}
    assert "No PyTorch build in the manifest has code for sm_21" in finding.advice


def test_arch_for_a_gpu_newer_than_every_build():
    finding = diagnose_text("NVIDIA Future GPU with CUDA capability sm_150 is not compatible with the current "
                            "PyTorch installation.", MANIFEST)[0]
    assert finding.facts == {"gpu_name": "NVIDIA Future GPU", "gpu_arch": "sm_150"}
    assert "newer than every build listed" in finding.advice and "too old" not in finding.advice


def test_variants_for_uses_only_same_major_code():
    text = variants_for(MANIFEST, (12, 0))
    assert "cu126" not in text.split("(")[0]   # cu126 has sm_90 and older only
    assert variants_for(MANIFEST, (2, 1)) == ""
    assert "pybootstrap plan" in variants_for(None, (12, 0))


@pytest.mark.parametrize("text", [
    "Oct 04 13:19:39 llm unit[394]: RuntimeError: boom",
    "vllm_1   | RuntimeError: boom",
    "[rank0]: RuntimeError: boom",
    "[task 2025-07-01T05:06:30.005+00:00] [train] [nvidia-smi(stdout)] RuntimeError: boom",
    "2025-07-01T05:06:30.005Z RuntimeError: boom",
    "> RuntimeError: boom",
], ids=["journald", "compose", "rank", "ci", "iso-time", "quote"])
def test_normalize_strips_log_prefixes(text):
    assert normalize(text) == "RuntimeError: boom"


def test_normalize_keeps_nvidia_smi_tables():
    table = "| NVIDIA-SMI 470.86       Driver Version: 470.86       CUDA Version: 11.4 |"
    assert normalize(table) == table


@pytest.mark.parametrize("text, kind", [
    ("OSError: [Errno 2] No such file or directory: 'C:\\\\Users\\\\me\\\\short.txt'", "unknown"),
    ("OSError: [Errno 2] No such file or directory: 'C:\\\\" + "d\\\\" * 130 + "x.py'", "long-path"),
    ("Error: Command failed: nvidia-smi -i 0 --query-gpu=name --format=csv", "unknown"),
    ("zsh: command not found: nvidia-smi", "nvidia-smi-not-found"),
    ("nvidia-smi : The term 'nvidia-smi' is not recognized as the name of a cmdlet", "nvidia-smi-not-found"),
    ("'nvidia-smi' no se reconoce como un comando interno o externo,", "nvidia-smi-not-found"),
    ("\"nvidia-smi\" n'est pas reconnu en tant que commande interne", "nvidia-smi-not-found"),
    ("'nvidia-smi' non è riconosciuto come comando interno o esterno,", "nvidia-smi-not-found"),
    ('Der Befehl "nvidia-smi" ist entweder falsch geschrieben oder', "nvidia-smi-not-found"),
    ("nvidia-smi output was parsed and the GPU recognized", "unknown"),
    ("ImportError: DLL load failed while importing _C: The specified module could not be found.", "dll-load-failed"),
    ("OSError: [WinError 1260] This program is blocked by group policy.", "unknown"),
    ("[WinError 126] The specified module could not be found", "dll-load-failed"),   # not a log prefix
    ("Failed to initialize NVML: Unknown Error", "driver-not-loaded"),
    ("No devices were found", "no-devices"),
    ("Unable to determine the device handle for GPU0000:02:00.0: GPU is lost.", "gpu-unavailable"),
    ("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "cuda-out-of-memory"),
    ("RuntimeError: CUDA error: an illegal memory access was encountered", "unknown"),
    ("the sm_1 with CUDA capability sm_1 is not compatible with the current PyTorch installation", "unknown"),
], ids=["errno2-short", "errno2-long", "smi-command-line", "zsh", "powershell", "es", "fr", "it", "de",
        "smi-prose",
        "dll-load-failed", "winerror-1260", "winerror-at-line-start", "nvml-unknown", "no-devices", "gpu-lost", "oom", "illegal-access",
        "bad-sm"])
def test_single_rules(text, kind):
    assert [f.kind for f in diagnose_text(text, MANIFEST)] == [kind]


def test_no_matching_distribution_advice_cases():
    local = diagnose_text("ERROR: Could not find a version that satisfies the requirement torch==1.11.0+cu113 "
                          "(from versions: none)", MANIFEST)[0]
    assert "--index-url https://download.pytorch.org/whl/cu113" in local.advice
    bad_index = diagnose_text(read("no-matching-distribution-4.txt"), MANIFEST)[0]
    assert bad_index.advice.startswith("https://download.pytorch.org/whl/cu131 is not a PyTorch index")
    assert "cu130" in bad_index.advice and "cu132" in bad_index.advice
    placeholder = diagnose_text(read("no-matching-distribution-5.txt"), MANIFEST)[0]
    assert "32-bit" in placeholder.advice


@pytest.mark.parametrize("text, os_name", [
    ("C:\\Users\\me\\x.py", "Windows"), ("File ~\\AppData\\Local\\x.py", "Windows"),
    ("/Users/me/.venv/lib/python3.12/site-packages/torch", "macOS"), ("/home/me/x.py", "Linux"),
    ("bash: nvidia-smi: command not found", "Linux"), ("nothing here", None)])
def test_guess_os(text, os_name):
    assert guess_os(text) == os_name


def test_finding_to_dict_keeps_the_contract_keys():
    finding = diagnose_text(read("dll-load-failed-2.txt"), MANIFEST)[0]
    data = finding.to_dict()
    assert list(data)[:3] == ["kind", "message", "advice"]
    assert data["facts"] == {"dll": "c10.dll", "win_error": "126"}
    assert Finding("x", "m", "a").to_dict() == {"kind": "x", "message": "m", "advice": "a", "facts": {}}
    assert hash(Finding("x", "m", "a", {"k": 1})) == hash(Finding("x", "m", "a"))


def test_empty_text_is_unknown():
    assert [f.kind for f in diagnose_text("")] == ["unknown"]
    assert [f.kind for f in diagnose_text(None)] == ["unknown"]  # type: ignore[arg-type]


# --- never raises -------------------------------------------------------------------------------------

FRAGMENTS = ["The NVIDIA driver on your system is too old (found version ", "99999999)", "0)", "sm_", "sm_1",
             " with CUDA capability ", "sm_120", " is not compatible with the current PyTorch installation",
             "Found GPU0 ", "which is of cuda capability ", "99.9", ". PyTorch no longer supports this GPU",
             "supports CUDA capabilities ", "compute_", "Error loading \"", ".dll\"", "WinError 126",
             "No such file or directory: 'C:\\", "Looking in indexes: ", "https://download.pytorch.org/whl/",
             "satisfies the requirement ", "(from versions: ", ")", "+cu", "Tried to allocate ", "GiB",
             "NVML library version: ", "Driver Version: ", "nvidia-smi", "\n", " ", "'", "\"", "\\\\", ":", "|"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join)))
def test_diagnose_never_raises(text):
    for manifest in (MANIFEST, None):
        findings = diagnose_text(text, manifest)
        assert findings
        kinds = [f.kind for f in findings]
        assert len(kinds) == len(set(kinds))
        json.dumps([f.to_dict() for f in findings])
        for finding in findings:
            assert finding.message and finding.advice


@pytest.mark.parametrize("text", [
    "Found GPU0 " + " " * 100_000, "a " * 200_000, ("x" * 99 + " with ") * 4_000, " " * 100_000 + "which is of",
    "nvidia-smi " * 50_000, "'C:\\" + "d\\" * 50_000, "[" * 100_000, "(from versions: " * 10_000,
], ids=["found-gpu-spaces", "words", "with", "spaces", "smi", "deep-path", "brackets", "versions"])
def test_long_adversarial_input_is_fast(text):
    """Pasted logs can be megabytes: no rule may backtrack quadratically."""
    start = time.monotonic()
    diagnose_text(text, MANIFEST)
    assert time.monotonic() - start < 3


# --- the command ------------------------------------------------------------------------------------

def test_diagnose_file_json(capsys):
    code = cli.main(["diagnose", str(ERRORS / "arch-unsupported-1.txt"), "--json"])
    captured = capsys.readouterr()
    assert code == 0
    doc = json.loads(captured.out)
    assert doc["schema"] == "pybootstrap.diagnose/1"
    assert [f["kind"] for f in doc["findings"]] == ["arch-unsupported", "no-kernel-image"]
    for finding in doc["findings"]:
        assert {"kind", "message", "advice"} <= set(finding)
    assert doc["findings"][0]["facts"]["gpu_arch"] == "sm_120"


def test_diagnose_stdin(capsys, monkeypatch):
    data = read("driver-library-mismatch-2.txt").encode("utf-8")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    code = cli.main(["diagnose", "-", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["schema"] == "pybootstrap.diagnose/1"
    assert [f["kind"] for f in doc["findings"]] == ["driver-library-mismatch"]
    assert "Reboot" in doc["findings"][0]["advice"]


def test_diagnose_stdin_in_a_windows_code_page(capsys, monkeypatch):
    text = "OSError: [WinError 126] Le module spécifié est introuvable. Error loading \"C:\\x\\c10.dll\" or one."
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode("cp1252")), encoding="utf-8"))
    assert cli.main(["diagnose", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"][0]["kind"] == "dll-load-failed"


def test_diagnose_human_output(capsys):
    assert cli.main(["diagnose", str(ERRORS / "long-path-1.txt")]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "long-path: a Windows path was too long" in captured.err
    assert "LongPathsEnabled" in captured.err


def test_diagnose_unreadable_file_is_a_usage_error(capsys, tmp_path):
    missing = tmp_path / "missing.txt"
    code = cli.main(["diagnose", str(missing)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "Traceback" not in captured.err
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: cannot read {missing}: No such file or directory"]
