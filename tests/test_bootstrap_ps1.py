"""Static checks of bootstrap.ps1 and the Pester suite that run without PowerShell.

The files are parsed with a real PowerShell grammar (tree-sitter-powershell). The module holds a
small checker (syntax errors, PowerShell 7-only constructs, project rules) and tests of the
checker itself, so that every check is shown to be able to fail.
"""

from __future__ import annotations

import argparse
import functools
import re
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

import pytest

tree_sitter = pytest.importorskip("tree_sitter", reason="needs the test extra: pip install tree-sitter tree-sitter-powershell")
tsp = pytest.importorskip("tree_sitter_powershell", reason="needs the test extra: pip install tree-sitter tree-sitter-powershell")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bootstrap.ps1"
PESTER_DIR = ROOT / "Pester"
DOC = ROOT / "README.md"

# Get-Verb in Windows PowerShell 5.1 (pester.dev and PSScriptAnalyzer use the same list).
APPROVED_VERBS = set(
    """Add Clear Close Copy Enter Exit Find Format Get Hide Join Lock Move New Open Optimize Pop Push Redo
    Remove Rename Reset Resize Search Select Set Show Skip Split Step Switch Undo Unlock Watch Connect
    Disconnect Read Receive Send Write Backup Checkpoint Compare Compress Convert ConvertFrom ConvertTo
    Dismount Edit Expand Export Group Import Initialize Limit Merge Mount Out Publish Restore Save Sync
    Unpublish Update Debug Measure Ping Repair Resolve Test Trace Approve Assert Complete Confirm Deny
    Disable Enable Install Invoke Register Request Restart Resume Start Stop Submit Suspend Uninstall
    Unregister Wait Block Grant Protect Revoke Unblock Unprotect Use""".split()
)

# Cmdlets that exist in Windows PowerShell 5.1 and that bootstrap.ps1 / the Pester suite may call.
BUILTIN_COMMANDS = {
    name.lower()
    for name in """Get-Command Get-ItemProperty New-ItemProperty Test-Path Get-ChildItem Where-Object ForEach-Object
    Select-Object Sort-Object Get-FileHash Get-AuthenticodeSignature New-Object New-Item Move-Item Remove-Item
    Copy-Item Set-Item Get-Item Get-Content Set-Content ConvertFrom-Json ConvertTo-Json Get-Date Write-Host
    Remove-Variable Split-Path Join-Path Start-Sleep Set-StrictMode Invoke-Expression Get-Process Out-Null
    Write-Output Measure-Object Get-Variable Set-Variable Import-Module Get-Module Out-String Resolve-Path
    Write-Warning Get-Location Set-Location Push-Location Pop-Location Compare-Object Add-Member Get-Verb
    Invoke-WebRequest Start-Process Get-Acl Set-Acl ConvertTo-SecureString Write-Verbose""".split()
}
PESTER_COMMANDS = {
    name.lower()
    for name in """Describe Context It BeforeAll BeforeEach AfterAll AfterEach BeforeDiscovery Mock Should
    InModuleScope Invoke-Pester New-PesterConfiguration Set-ItResult""".split()
}
# Cmdlets the Pester suite may mock (STYLE.md: mock cmdlets directly); everything else it mocks must be a script
# function.
MOCKABLE_BUILTINS = {name.lower() for name in """Start-Sleep Remove-Item Move-Item Copy-Item Write-Host Invoke-WebRequest
    Get-FileHash Get-AuthenticodeSignature Start-Process Get-ItemProperty Get-Acl Set-Acl Get-Command New-Item
    Test-Path Set-Content Get-Content Get-ChildItem""".split()}

# Commands and parameters that do not exist in Windows PowerShell 5.1.
PS7_COMMANDS = {name.lower() for name in ["Get-Error", "Test-Json", "Join-String", "Get-Uptime", "Remove-Alias", "ConvertFrom-Markdown"]}
PS7_PARAMETERS = {
    "foreach-object": ["Parallel", "ThrottleLimit", "AsJob"],
    "%": ["Parallel", "ThrottleLimit", "AsJob"],
    "foreach": ["Parallel", "ThrottleLimit", "AsJob"],
    "convertfrom-json": ["AsHashtable", "Depth", "NoEnumerate"],
    "convertto-json": ["EscapeHandling", "AsArray"],
    "get-content": ["AsByteStream"],
    "set-content": ["AsByteStream"],
    "add-content": ["AsByteStream"],
    "join-path": ["AdditionalChildPath"],
    "split-path": ["LeafBase", "Extension"],
    "invoke-webrequest": ["SkipHttpErrorCheck", "Resume", "SslProtocol", "Authentication", "Token", "NoProxy", "MaximumRetryCount"],
    "invoke-restmethod": ["SkipHttpErrorCheck", "Resume", "SslProtocol", "Authentication", "Token", "NoProxy", "MaximumRetryCount"],
    "start-process": ["Environment"],
    "get-date": ["AsUTC", "UnixTimeSeconds"],
    "sort-object": ["Top", "Bottom", "Stable"],
    "get-childitem": ["FollowSymlink"],
}
PS7_ANY_COMMAND_PARAMETERS = ["SkipCertificateCheck"]
PS7_AUTOMATIC_VARIABLES = {"$iswindows", "$islinux", "$ismacos", "$iscoreclr"}
SCOPE_QUALIFIERS = {"env", "script", "global", "local", "private", "using", "variable", "function", "alias"}

STRING_NODE_TYPES = {
    "comment",
    "expandable_string_literal",
    "verbatim_string_characters",
    "expandable_here_string_literal",
    "verbatim_here_string_characters",
}


class Finding(NamedTuple):
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.text}"


# ---------------------------------------------------------------------------------------------
# The checker
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _parser() -> "tree_sitter.Parser":
    return tree_sitter.Parser(tree_sitter.Language(tsp.language()))


def parse(data: bytes) -> "tree_sitter.Tree":
    """Parse PowerShell source with tree-sitter-powershell."""
    return _parser().parse(data)


def walk(node) -> Iterator:
    """Every node below (and including) node, depth first."""
    yield node
    for child in node.children:
        yield from walk(child)


def line_of(node) -> int:
    return node.start_point[0] + 1


def text_of(node) -> str:
    return node.text.decode("utf-8", "replace")


def syntax_errors(data: bytes) -> List[Finding]:
    """ERROR and MISSING nodes, with line numbers."""
    findings = []
    for node in walk(parse(data).root_node):
        if node.type == "ERROR":
            findings.append(Finding(line_of(node), "syntax error", text_of(node)[:60]))
        elif node.is_missing:
            findings.append(Finding(line_of(node), "syntax error", f"missing {node.type!r}"))
    return findings


def masked_code(data: bytes, tree=None) -> str:
    """The source with comments and string contents blanked out (newlines kept), for token scans."""
    tree = tree or parse(data)
    chars = bytearray(data)
    for node in walk(tree.root_node):
        if node.type in STRING_NODE_TYPES:
            for index in range(node.start_byte, node.end_byte):
                if chars[index] not in (0x0A, 0x0D):
                    chars[index] = 0x20
    return chars.decode("utf-8", "replace")


def command_name(node) -> Optional[str]:
    """The name of a `command` node, when it is a plain name."""
    for child in node.children:
        if child.type == "command_name":
            return text_of(child)
    return None


def command_elements(node) -> List:
    for child in node.children:
        if child.type == "command_elements":
            return [c for c in child.children if c.type != "command_argument_sep"]
    return []


def commands(tree) -> Iterator[Tuple[str, object]]:
    for node in walk(tree.root_node):
        if node.type == "command":
            name = command_name(node)
            if name:
                yield name, node


def parameter_names(command_node) -> List[str]:
    return [text_of(e).lstrip("-").rstrip(":") for e in command_elements(command_node) if e.type == "command_parameter"]


# 5.1 parameters that are prefixes of newer ones (Split-Path -Leaf vs -LeafBase, It -Skip vs -SkipCertificateCheck).
PS51_PARAMETER_PREFIXES = {"leaf", "skip"}


def _matches_parameter(given: str, known: str) -> bool:
    """Exact name, or an abbreviation of it that no 5.1 parameter shares."""
    given, known = given.lower(), known.lower()
    return given == known or (len(given) >= 3 and known.startswith(given) and given not in PS51_PARAMETER_PREFIXES)


def _guarded(node) -> bool:
    """True when $IsWindows & co. sit in a statement that first checks the PowerShell version."""
    statement = node
    current = node.parent
    while current is not None and current.type not in ("statement_list", "program"):
        if current.type == "if_statement":
            for child in current.children:
                if child.type == "pipeline":
                    condition = text_of(child)
                    return bool(re.search(r"PSVersionTable|variable:Is|Get-Variable", condition, re.I))
        statement = current
        current = current.parent
    return bool(re.search(r"PSVersionTable|variable:Is|Get-Variable", text_of(statement), re.I))


def ps7_findings(data: bytes) -> List[Finding]:
    """PowerShell 7-only syntax, commands, parameters and automatic variables."""
    tree = parse(data)
    findings: List[Finding] = []
    for node in walk(tree.root_node):
        if node.type == "pipeline_chain_tail":
            op = text_of(node).strip().split()[0] if text_of(node).strip() else "&&"
            findings.append(Finding(line_of(node), "PowerShell 7-only pipeline chain operator", op[:2]))
        elif node.type == "ERROR" and "?" in text_of(node):
            findings.append(Finding(line_of(node), "PowerShell 7-only operator (??, ?., ?[ or ternary)", text_of(node)[:40]))
        elif node.type == "variable" and text_of(node).lower() in PS7_AUTOMATIC_VARIABLES and not _guarded(node):
            findings.append(Finding(line_of(node), "PowerShell 6+ automatic variable without a 5.1-safe guard", text_of(node)))
    for name, node in commands(tree):
        lowered = name.lower()
        if lowered in PS7_COMMANDS:
            findings.append(Finding(line_of(node), "PowerShell 6+ command", name))
        for given in parameter_names(node):
            known = PS7_PARAMETERS.get(lowered, []) + PS7_ANY_COMMAND_PARAMETERS
            if any(_matches_parameter(given, k) for k in known):
                findings.append(Finding(line_of(node), "PowerShell 6+ parameter", f"{name} -{given}"))
    # Fallback token scan outside strings and comments, for what the grammar does not expose.
    code = masked_code(data, tree)
    patterns = [
        (r"\?\?=?", "PowerShell 7-only null-coalescing operator"),
        (r"\?\.", "PowerShell 7-only null-conditional member access"),
        (r"\}?\?\[", "PowerShell 7-only null-conditional index"),
        (r"(?<![|\s])\s+\?\s+(?![{\s])[^\n:]*\s:\s", "PowerShell 7-only ternary operator"),
        (r"(?<![|&])&&(?!&)|(?<!\|)\|\|(?!\|)", "PowerShell 7-only pipeline chain operator"),
    ]
    for pattern, kind in patterns:
        for match in re.finditer(pattern, code):
            line = code.count("\n", 0, match.start()) + 1
            findings.append(Finding(line, kind, match.group(0).strip()))
    unique = sorted(set(findings))
    return unique


def scope_colon_findings(data: bytes) -> List[Finding]:
    """"$name:" inside an expandable string: a parse error in PowerShell ("use ${name}")."""
    findings = []
    for node in walk(parse(data).root_node):
        if node.type in ("expandable_string_literal", "expandable_here_string_literal"):
            for match in re.finditer(r"(?<!`)\$([A-Za-z_][A-Za-z0-9_]*):", text_of(node)):
                if match.group(1).lower() not in SCOPE_QUALIFIERS:
                    findings.append(Finding(line_of(node), "variable followed by ':' in a string", match.group(0)))
    return findings


def function_nodes(tree) -> Dict[str, object]:
    found = {}
    for node in walk(tree.root_node):
        if node.type == "function_statement":
            for child in node.children:
                if child.type == "function_name":
                    found[text_of(child)] = node
    return found


def enclosing_function(node) -> Optional[str]:
    current = node.parent
    while current is not None:
        if current.type == "function_statement":
            for child in current.children:
                if child.type == "function_name":
                    return text_of(child)
        current = current.parent
    return None


def exit_findings(data: bytes, allowed_function: str = "Exit-Bootstrap") -> List[Finding]:
    """Every `exit` outside the one termination function."""
    findings = []
    for node in walk(parse(data).root_node):
        if node.type == "flow_control_statement" and text_of(node).lower().startswith("exit"):
            if enclosing_function(node) != allowed_function:
                findings.append(Finding(line_of(node), "exit outside " + allowed_function, text_of(node)[:40]))
    return findings


def prompt_findings(data: bytes) -> List[Finding]:
    """Anything that could prompt: Read-Host, PromptForChoice, ReadKey/ReadLine, Mandatory parameters."""
    tree = parse(data)
    findings = [Finding(line_of(n), "prompt", name) for name, n in commands(tree) if name.lower() == "read-host"]
    code = masked_code(data, tree)
    for pattern, kind in [
        (r"(?i)\bRead-Host\b", "prompt"),
        (r"(?i)PromptForChoice|PromptForCredential|\.ReadKey\(|\.ReadLine\(\)", "prompt"),
        (r"(?i)(?<![$\w])Mandatory\b", "Mandatory parameter (prompts when missing)"),
    ]:
        for match in re.finditer(pattern, code):
            findings.append(Finding(code.count("\n", 0, match.start()) + 1, kind, match.group(0)))
    return sorted(set(findings))


def non_ascii_findings(data: bytes) -> List[Finding]:
    findings = []
    for index, byte in enumerate(data):
        if byte > 0x7F:
            findings.append(Finding(data.count(b"\n", 0, index) + 1, "non-ASCII byte", hex(byte)))
    return findings


def mock_targets(tree) -> List[Tuple[str, object, bool]]:
    """(command, Mock node, has -ParameterFilter) for every Mock."""
    result = []
    for name, node in commands(tree):
        if name.lower() != "mock":
            continue
        elements = command_elements(node)
        target = next((text_of(e) for e in elements if e.type == "generic_token"), None)
        if target is None:
            param_values = [e for e in elements]
            for index, element in enumerate(param_values[:-1]):
                if element.type == "command_parameter" and text_of(element).lower() == "-commandname":
                    target = text_of(param_values[index + 1]).strip("'\"")
        if target:
            has_filter = any(_matches_parameter(p, "ParameterFilter") for p in parameter_names(node))
            result.append((target, node, has_filter))
    return result


def invoke_targets(tree) -> List[str]:
    """Commands named by Should -Invoke."""
    names = []
    for name, node in commands(tree):
        if name.lower() != "should":
            continue
        elements = command_elements(node)
        if not any(e.type == "command_parameter" and text_of(e).lower() == "-invoke" for e in elements):
            continue
        for element in elements:
            if element.type == "generic_token":
                names.append(text_of(element))
                break
    return names


def block_container(node):
    """The nearest enclosing Describe / Context / It command (None at file level)."""
    current = node.parent
    while current is not None:
        if current.type == "command" and (command_name(current) or "").lower() in ("describe", "context", "it"):
            return current
        current = current.parent
    return None


def _contains(outer, inner) -> bool:
    if outer is None:
        return True
    if inner is None:
        return False
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


def unfiltered_mock_findings(data: bytes) -> List[Finding]:
    """Pester 6: a Mock with -ParameterFilter needs a default Mock of the same command in scope."""
    tree = parse(data)
    mocks = mock_targets(tree)
    findings = []
    for target, node, has_filter in mocks:
        if not has_filter:
            continue
        container = block_container(node)
        covered = any(
            other.lower() == target.lower() and not other_filter and _contains(block_container(other_node), container or other_node)
            for other, other_node, other_filter in mocks
        )
        if not covered:
            findings.append(Finding(line_of(node), "Mock with -ParameterFilter but no default Mock in scope", target))
    return findings


def pester_rule_findings(data: bytes) -> List[Finding]:
    """Pester 5 syntax that also runs on Pester 6, and Windows-tagged blocks that skip elsewhere."""
    tree = parse(data)
    findings = []
    for name, node in commands(tree):
        lowered = name.lower()
        if lowered in ("assert-mockcalled", "assert-verifiablemock"):
            findings.append(Finding(line_of(node), "removed in Pester 6", name))
        params = [p.lower() for p in parameter_names(node)]
        if lowered in ("it", "set-itresult") and "pending" in params:
            findings.append(Finding(line_of(node), "-Pending was removed in Pester 6", name))
        if lowered in ("it", "context", "describe"):
            elements = command_elements(node)
            for index, element in enumerate(elements[:-1]):
                if element.type == "command_parameter" and text_of(element).lower().rstrip(":") in ("-foreach", "-testcases"):
                    value = re.sub(r"\s+", "", text_of(elements[index + 1]))
                    if value in ("@()", "$null"):
                        findings.append(Finding(line_of(node), "empty -ForEach throws in Pester 6", value))
            tags = []
            for index, element in enumerate(elements[:-1]):
                if element.type == "command_parameter" and text_of(element).lower() == "-tag":
                    tags.append(text_of(elements[index + 1]))
            if any(re.search(r"\bWindows\b", t) for t in tags) and "skip" not in params:
                findings.append(Finding(line_of(node), "Windows-tagged block without -Skip:(-not $onWindows)", name))
    return findings


def it_blocks(data: bytes) -> int:
    return sum(1 for name, _ in commands(parse(data)) if name.lower() == "it")


def parameter_env_defaults(data: bytes) -> Dict[str, str]:
    """Script parameter name -> the PYBOOTSTRAP_* variable its default reads."""
    tree = parse(data)
    result = {}
    for node in tree.root_node.children:
        if node.type != "param_block":
            continue
        for parameter in walk(node):
            if parameter.type != "script_parameter":
                continue
            own = next(c for c in parameter.children if c.type == "variable")
            name = text_of(own).lstrip("$")
            variables = [text_of(v) for v in walk(parameter) if v.type == "variable" and v.start_byte > own.start_byte]
            env = next((v[len("$env:"):] for v in variables if v.lower().startswith("$env:")), "")
            result[name] = env
    return result


def function_string_literals(data: bytes, function: str) -> List[str]:
    node = function_nodes(parse(data))[function]
    return [text_of(n).strip("'\"") for n in walk(node) if n.type in ("verbatim_string_characters", "expandable_string_literal")]


def top_level_findings(data: bytes) -> List[Finding]:
    """Only functions and one guarded entry call at the top level."""
    tree = parse(data)
    findings = []
    guards = 0
    for node in tree.root_node.children:
        if node.type in ("comment", "param_block"):
            continue
        if node.type != "statement_list":
            findings.append(Finding(line_of(node), "top-level statement", node.type))
            continue
        for statement in node.children:
            if statement.type in ("function_statement", "comment"):
                continue
            body = text_of(statement)
            if statement.type == "if_statement" and "PYBOOTSTRAP_NO_MAIN" in body and "InvocationName" in body:
                guards += 1
                continue
            findings.append(Finding(line_of(statement), "top-level statement", body[:50]))
    if guards != 1:
        findings.append(Finding(1, "guarded entry point", f"expected exactly one, found {guards}"))
    return findings


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def script_bytes() -> bytes:
    return SCRIPT.read_bytes()


@pytest.fixture(scope="module")
def script_tree(script_bytes):
    return parse(script_bytes)


@pytest.fixture(scope="module")
def script_functions(script_tree) -> Set[str]:
    return set(function_nodes(script_tree))


def pester_files() -> List[Path]:
    return sorted(PESTER_DIR.glob("*.ps1"))


def _install_parser() -> argparse.ArgumentParser:
    cli = pytest.importorskip("pybootstrap.cli", reason="pybootstrap.cli is not importable")
    parser = cli.build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices["install"]
    raise AssertionError("build_parser() has no subcommands")


def _join(findings: List[Finding]) -> str:
    return "\n".join(str(f) for f in findings)


# ---------------------------------------------------------------------------------------------
# Tests of the checker itself: each check must be able to fail
# ---------------------------------------------------------------------------------------------

CLEAN_51 = b"""[CmdletBinding()]
param([string] $Name = $env:PYBOOTSTRAP_NAME)
function Get-Thing {
    [CmdletBinding()]
    param([string] $Path)
    $value = 'a ?? b && c || d ? e : f'   # ?? && || ?. in a comment
    if ($null -eq $Path) { return $null }
    $items = @(Get-ChildItem -LiteralPath $Path | Where-Object { $_.Name -like 'x?' })
    $items | ? { $_ } | ForEach-Object { $_.Name }
    if ($PSVersionTable.PSVersion.Major -ge 6 -and $IsWindows) { 'win' }
    "${Path}: $($items.Count) $env:TEMP"
    return $value
}
"""


@pytest.mark.parametrize(
    "snippet, kind",
    [
        (b"$a = $b ?? 'x'\n", "operator"),
        (b"$a ??= 'x'\n", "operator"),
        (b"$a = $b ? 'x' : 'y'\n", "operator"),
        (b"$n = $obj?.Name\n", "operator"),
        (b"$n = ${obj}?[0]\n", "operator"),
        (b"git status && echo ok\n", "chain"),
        (b"git status || echo failed\n", "chain"),
        (b"1..3 | ForEach-Object -Parallel { $_ }\n", "parameter"),
        (b"Invoke-WebRequest -Uri $u -SkipCertificateCheck\n", "parameter"),
        (b"$h = Get-Content x.json -Raw | ConvertFrom-Json -AsHashtable\n", "parameter"),
        (b"Get-Error\n", "command"),
        (b"if ($IsWindows) { 'yes' }\n", "automatic variable"),
        (b"$onLinux = $IsLinux\n", "automatic variable"),
    ],
    ids=["null-coalescing", "null-coalescing-assignment", "ternary", "null-conditional-member",
         "null-conditional-index", "and-chain", "or-chain", "foreach-parallel", "skip-certificate-check",
         "ashashtable", "get-error", "iswindows-unguarded", "islinux-unguarded"],
)
def test_ps7_detector_flags_snippet(snippet, kind):
    findings = ps7_findings(snippet)
    assert findings, f"not flagged: {snippet!r}"
    assert any(kind in f.kind for f in findings), _join(findings)


def test_ps7_detector_accepts_clean_51_code():
    assert ps7_findings(CLEAN_51) == []
    assert syntax_errors(CLEAN_51) == []
    assert scope_colon_findings(CLEAN_51) == []


@pytest.mark.parametrize(
    "snippet, line",
    [
        (b"function Get-A {\n    if ($x { 1 }\n}\n", 2),
        (b"$a = @(1, 2\n", 1),
        (b"function Get-B {\n  'ok'\n}\nfunction Get-C { param([string] $A = ) }\n", 4),
    ],
    ids=["unclosed-paren", "unclosed-array", "missing-default"],
)
def test_syntax_error_detector_reports_line(snippet, line):
    findings = syntax_errors(snippet)
    assert findings, "syntax error not detected"
    assert min(f.line for f in findings) <= line <= max(f.line for f in findings) + 1, _join(findings)


def test_exit_detector():
    allowed = b"function Exit-Bootstrap { param([int] $Code) exit $Code }\n"
    assert exit_findings(allowed) == []
    bad = b"function Get-A { exit 2 }\nexit 3\n"
    assert [f.line for f in exit_findings(bad)] == [1, 2]


def test_prompt_detector():
    assert prompt_findings(b"$a = Read-Host 'Name'\n")
    assert prompt_findings(b"$c = $host.UI.PromptForChoice('t', 'm', $choices, 0)\n")
    assert prompt_findings(b"param([Parameter(Mandatory = $true)] [string] $A)\n")
    assert prompt_findings(b"Write-Host 'never Read-Host here'  # Read-Host in a comment\n") == []


def test_scope_colon_detector():
    assert scope_colon_findings(b'Write-Host "$Name: value"\n')
    assert scope_colon_findings(b'Write-Host "${Name}: $env:TEMP $script:X"\n') == []


def test_non_ascii_detector():
    assert non_ascii_findings("Write-Host 'caf\u00e9'\n".encode("utf-8"))
    assert non_ascii_findings(b"Write-Host 'cafe'\n") == []


def test_pester_rule_detector():
    bad = b"""Describe 'x' {
    It 'a' -Pending { 1 }
    It 'b' -Tag Windows { 1 }
    It 'c' -ForEach @() { 1 }
    It 'd' { Assert-MockCalled Get-A }
}
"""
    kinds = sorted(f.kind for f in pester_rule_findings(bad))
    assert any("Pending" in k for k in kinds)
    assert any("Windows-tagged" in k for k in kinds)
    assert any("empty -ForEach" in k for k in kinds)
    assert any("removed in Pester 6" in k for k in kinds)
    good = b"Describe 'x' {\n    It 'b' -Tag Windows -Skip:(-not $onWindows) { 1 }\n}\n"
    assert pester_rule_findings(good) == []


def test_unfiltered_mock_detector():
    bad = b"Describe 'x' {\n    It 'a' {\n        Mock Get-A { 1 } -ParameterFilter { $Name -eq 'b' }\n    }\n}\n"
    assert unfiltered_mock_findings(bad)
    good = (b"Describe 'x' {\n    BeforeAll { Mock Get-A { 0 } }\n    It 'a' {\n"
            b"        Mock Get-A { 1 } -ParameterFilter { $Name -eq 'b' }\n    }\n}\n")
    assert unfiltered_mock_findings(good) == []


def test_top_level_detector():
    assert top_level_findings(b"function Get-A { 1 }\nWrite-Host 'side effect'\n")
    guarded = (b"param()\nfunction Get-A { 1 }\n"
               b"if ($MyInvocation.InvocationName -ne '.' -and -not $env:PYBOOTSTRAP_NO_MAIN) { Get-A }\n")
    assert top_level_findings(guarded) == []


# ---------------------------------------------------------------------------------------------
# bootstrap.ps1
# ---------------------------------------------------------------------------------------------


def test_script_is_ascii(script_bytes):
    assert non_ascii_findings(script_bytes) == []


def test_script_parses_without_errors(script_bytes):
    findings = syntax_errors(script_bytes)
    assert findings == [], _join(findings)


def test_script_has_no_powershell7_constructs(script_bytes):
    findings = ps7_findings(script_bytes)
    assert findings == [], _join(findings)


def test_script_has_no_variable_colon_in_strings(script_bytes):
    findings = scope_colon_findings(script_bytes)
    assert findings == [], _join(findings)


def test_script_exits_only_in_exit_bootstrap(script_bytes):
    findings = exit_findings(script_bytes)
    assert findings == [], _join(findings)
    assert "exit $value" in script_bytes.decode()


def test_script_never_prompts(script_bytes):
    findings = prompt_findings(script_bytes)
    assert findings == [], _join(findings)


def test_script_top_level_is_functions_and_a_guarded_entry(script_bytes):
    findings = top_level_findings(script_bytes)
    assert findings == [], _join(findings)


def test_script_functions_use_approved_verbs_and_cmdletbinding(script_tree):
    bad = []
    for name, node in function_nodes(script_tree).items():
        verb = name.split("-", 1)[0]
        if "-" not in name or verb not in APPROVED_VERBS:
            bad.append(f"{name}: unapproved verb")
        if "[CmdletBinding(" not in text_of(node)[:400]:
            bad.append(f"{name}: no [CmdletBinding()]")
    assert bad == []


def test_script_calls_only_its_functions_and_51_cmdlets(script_tree, script_functions):
    known = {f.lower() for f in script_functions} | BUILTIN_COMMANDS
    unknown = sorted({(name, line_of(node)) for name, node in commands(script_tree)
                      if "-" in name and name.lower() not in known})
    assert unknown == []


# Parameters that take no environment variable: the "--" catcher and the pass-through arguments.
NO_VARIABLE = {"EndOfParameters", "PybootstrapArgs"}


def readme_section(title: str) -> str:
    """A `## ` section of README.md, up to the next one."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## " + title)
    end = text.find("\n## ", start + 3)
    return text[start:end if end >= 0 else len(text)]


def readme_parameter_table() -> Dict[str, str]:
    """Parameter -> environment variable, from README's table ("| `-Name` | `PYBOOTSTRAP_NAME` | ...")."""
    section = readme_section("Windows bootstrap and fleets")
    return dict(re.findall(r"^\| `-(\w+)` \| `(PYBOOTSTRAP_\w+)` \|", section, re.M))


def test_parameters_default_from_their_environment_variables(script_bytes):
    defaults = parameter_env_defaults(script_bytes)
    assert set(defaults) - NO_VARIABLE, "no parameters found"
    for name, env in defaults.items():
        if name in NO_VARIABLE:
            assert env == "", f"-{name} should not read a variable"
            continue
        assert env == "PYBOOTSTRAP_" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper().replace("HOME_PATH", "HOME"), name


def test_parameter_table_in_readme_is_the_param_block(script_bytes):
    defaults = {k: v for k, v in parameter_env_defaults(script_bytes).items() if k not in NO_VARIABLE}
    assert readme_parameter_table() == defaults


def test_entry_point_passes_every_parameter(script_bytes, script_tree):
    defaults = parameter_env_defaults(script_bytes)
    guard = [n for n in script_tree.root_node.children[-1].children if n.type == "if_statement"][-1]
    keys = {text_of(n) for n in walk(guard) if n.type == "key_expression"}
    assert keys == set(defaults) - NO_VARIABLE
    assert "-PassThrough $PybootstrapArgs" in text_of(guard)


def test_pinned_constants(script_bytes):
    import pybootstrap

    text = text_of(function_nodes(parse(script_bytes))["Get-BootstrapConstants"])
    assert re.search(r"PybootstrapVersion = '([^']+)'", text).group(1) == pybootstrap.__version__
    release = re.search(r"ReleaseUrl = '([^']+)'", text).group(1)
    assert release.startswith("https://") and release.endswith(f"/pybootstrap-{pybootstrap.__version__}-py3-none-any.whl")
    assert re.search(r"ReleaseSha256 = '([0-9a-f]{64})?'", text)
    base = re.search(r"\$miniforge = '([^']+)'", text).group(1)
    assert base.startswith("https://github.com/conda-forge/miniforge/releases/download/")
    assert re.fullmatch(r"[0-9a-f]{64}", re.search(r"\$windows = @\{ Url = [^;]+; Sha256 = '([^']*)' \}", text).group(1))
    for key in ("windows-x86_64", "windows-arm64", "linux-x86_64", "linux-arm64", "macos-x86_64", "macos-arm64"):
        assert f"'{key}' = " in text, key


def test_pip_never_installs_pybootstrap_by_name(script_bytes):
    literals = function_string_literals(script_bytes, "Install-ToolEnvironment")
    pip = literals[literals.index("pip") - 1:literals.index("--no-input") + 1]
    assert pip == ["-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    assert "pybootstrap" not in literals
    assert not re.search(r"pip[^\n]*install[^\n]*['\"]pybootstrap['\"]", script_bytes.decode(), re.I)


def test_the_script_adds_no_flags_to_pybootstrap(script_bytes):
    literals = function_string_literals(script_bytes, "Invoke-Bootstrap")
    start = literals.index("pybootstrap")
    assert literals[start - 1:start + 2] == ["-m", "pybootstrap", "install"]
    assert [s for s in literals if re.fullmatch(r"--?[a-z][a-z-]*", s)] == ["-m"]


def documented_pass_through_flags(script_bytes) -> Set[str]:
    """pybootstrap flags the docs show going through the script: after " -- " in the script's help and README's
    bootstrap sections, and every `--flag` in README's pass-through rule."""
    help_text = script_bytes.decode().split("#>", 1)[0]
    texts = [readme_section("Windows: the one-liner"), readme_section("Windows bootstrap and fleets"), help_text]
    flags: Set[str] = set()
    for text in texts:
        for line in text.splitlines():
            if " -- " in line:
                flags |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", line.split(" -- ", 1)[1]))
    rule = readme_section("Windows bootstrap and fleets").split("### The pass-through rule", 1)[1].split("\n### ", 1)[0]
    flags |= set(re.findall(r"`(--[a-z][a-z-]+)", rule))
    return flags


def test_flags_passed_to_pybootstrap_exist_in_the_cli(script_bytes):
    flags = documented_pass_through_flags(script_bytes)
    assert {"--variant", "--torch", "--find-links", "--offline", "--index-url"} <= flags
    options = set(_install_parser()._option_string_actions)
    missing = sorted(flag for flag in flags if flag not in options)
    assert missing == [], f"not options of 'pybootstrap install': {missing}"


def test_environment_variables_do_not_collide_with_pybootstrap_flags(script_bytes):
    flag_variables = {
        "PYBOOTSTRAP_" + option.lstrip("-").upper().replace("-", "_")
        for option in _install_parser()._option_string_actions
        if option.startswith("--")
    }
    # Each variable means one thing: none of the script's is also read by pybootstrap as one of its flags.
    assert set(parameter_env_defaults(script_bytes).values()) & flag_variables == set()


# ---------------------------------------------------------------------------------------------
# The Pester suite
# ---------------------------------------------------------------------------------------------


def test_pester_suite_exists():
    assert [p for p in pester_files() if p.name.endswith(".Tests.ps1")], "no Pester/*.Tests.ps1"


@pytest.mark.parametrize("path", pester_files(), ids=lambda p: p.name)
def test_pester_file_is_clean(path):
    data = path.read_bytes()
    problems = non_ascii_findings(data) + syntax_errors(data) + ps7_findings(data) + scope_colon_findings(data)
    problems += pester_rule_findings(data) + unfiltered_mock_findings(data) + prompt_findings(data)
    assert problems == [], _join(problems)


def test_pester_suite_uses_only_script_functions(script_functions):
    script = {f.lower() for f in script_functions}
    helpers = {name.lower() for path in pester_files() for name in function_nodes(parse(path.read_bytes()))}
    problems = []
    for path in pester_files():
        tree = parse(path.read_bytes())
        for target, node, _ in mock_targets(tree):
            if target.lower() not in script and target.lower() not in MOCKABLE_BUILTINS:
                problems.append(f"{path.name}:{line_of(node)}: mocks unknown command {target}")
        for target in invoke_targets(tree):
            if target.lower() not in script and target.lower() not in MOCKABLE_BUILTINS:
                problems.append(f"{path.name}: Should -Invoke unknown command {target}")
        for name, node in commands(tree):
            lowered = name.lower()
            if "-" in name and lowered not in script | helpers | BUILTIN_COMMANDS | PESTER_COMMANDS:
                problems.append(f"{path.name}:{line_of(node)}: calls unknown command {name}")
    assert problems == []


def test_pester_suite_covers_every_function(script_functions):
    referenced: Set[str] = set()
    for path in pester_files():
        tree = parse(path.read_bytes())
        referenced |= {name.lower() for name, _ in commands(tree)}
        referenced |= {t.lower() for t, _, _ in mock_targets(tree)}
        referenced |= {t.lower() for t in invoke_targets(tree)}
    untested = sorted(f for f in script_functions if f.lower() not in referenced)
    assert untested == []
