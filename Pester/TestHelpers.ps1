# Helpers shared by the Pester files. Dot-sourced after bootstrap.ps1 in each file's BeforeAll.

# Get-Acl, Set-Acl and Get-AuthenticodeSignature exist only in Windows PowerShell and PowerShell 7 on Windows.
# Elsewhere these stand-ins (same parameters) give Pester something to mock; they fail when called unmocked.
if (-not (Get-Command -Name Get-Acl -ErrorAction SilentlyContinue)) {
    function global:Get-Acl {
        param([string] $LiteralPath)
        throw 'Get-Acl is not available here; mock it.'
    }
}
if (-not (Get-Command -Name Set-Acl -ErrorAction SilentlyContinue)) {
    function global:Set-Acl {
        param([string] $LiteralPath, [object] $AclObject)
        throw 'Set-Acl is not available here; mock it.'
    }
}
if (-not (Get-Command -Name Get-AuthenticodeSignature -ErrorAction SilentlyContinue)) {
    function global:Get-AuthenticodeSignature {
        param([string] $LiteralPath)
        throw 'Get-AuthenticodeSignature is not available here; mock it.'
    }
}

function Get-ThrownExitCode {
    # Runs a script block and returns the exit code carried by what it throws ($null if nothing).
    param([scriptblock] $ScriptBlock)
    try {
        $null = & $ScriptBlock
    } catch {
        return (Get-ErrorExitCode -ErrorRecord $_)
    }
    return $null
}

function Get-ThrownMessage {
    # Runs a script block and returns the message of what it throws ($null if nothing).
    param([scriptblock] $ScriptBlock)
    try {
        $null = & $ScriptBlock
    } catch {
        return $_.Exception.Message
    }
    return $null
}

function Get-Thrown {
    # Runs a script block once and returns what it threw: ExitCode and Message ($null if nothing was thrown).
    param([scriptblock] $ScriptBlock)
    try {
        $null = & $ScriptBlock
    } catch {
        return [pscustomobject]@{ ExitCode = (Get-ErrorExitCode -ErrorRecord $_); Message = $_.Exception.Message }
    }
    return $null
}

function New-FakeProcess {
    # What Start-Process -PassThru returns, for a program that has already exited with ExitCode.
    param([int] $ExitCode = 0)
    $process = [pscustomobject]@{ ExitCode = $ExitCode; Handle = [System.IntPtr]::new(1) }
    $process | Add-Member -MemberType ScriptMethod -Name WaitForExit -Value { param($Milliseconds) return $true }
    return $process
}

function New-FakeAcl {
    # What Get-Acl returns, reduced to what bootstrap.ps1 uses: Sddl, and SetSecurityDescriptorSddlForm (which
    # changes Sddl, so Set-Acl's AclObject shows exactly the descriptor that would be written).
    param([string] $Sddl)
    $acl = [pscustomobject]@{ Sddl = $Sddl }
    $acl | Add-Member -MemberType ScriptMethod -Name SetSecurityDescriptorSddlForm -Value { param($Text) $this.Sddl = $Text }
    return $acl
}

function New-ProbeOutput {
    # Invoke-ProcessCapture's result for a Python answering the probe of Get-PythonInfo.
    param(
        [string] $Executable = 'C:\Python312\python.exe',
        [string] $Version = '3.12.4',
        [int] $Bits = 64,
        [bool] $Venv = $true,
        [int] $ExitCode = 0
    )
    $json = [ordered]@{ executable = $Executable; version = @($Version.Split('.') | ForEach-Object { [int]$_ }); bits = $Bits; venv = $Venv }
    return [pscustomobject]@{ ExitCode = $ExitCode; Output = ('some warning on stderr' + "`n" + (ConvertTo-Json -InputObject $json -Compress)) }
}

function Get-HostExecutable {
    # The PowerShell executable running these tests (powershell.exe or pwsh). $PSHOME holds it; the process
    # path is not enough, because PowerShell installed as a .NET tool runs inside the 'dotnet' host.
    foreach ($name in @('pwsh.exe', 'pwsh', 'powershell.exe')) {
        $candidate = Join-Path -Path $PSHOME -ChildPath $name
        if (Test-Path -LiteralPath $candidate -PathType Leaf) { return $candidate }
    }
    return (Get-Process -Id $PID).Path
}

function Get-TestPython {
    # A real Python 3.9+ for the tests that run one: PYBOOTSTRAP_TEST_PYTHON (CI sets it), else python3 on PATH.
    if ($env:PYBOOTSTRAP_TEST_PYTHON -and (Test-Path -LiteralPath $env:PYBOOTSTRAP_TEST_PYTHON)) { return $env:PYBOOTSTRAP_TEST_PYTHON }
    $found = @(Get-Command -Name @('python3', 'python') -CommandType Application -ErrorAction SilentlyContinue) | Select-Object -First 1
    if ($null -ne $found) { return $found.Path }
    return $null
}

function Invoke-ChildPowerShell {
    # Runs PowerShell code in a child process (a fresh session) and returns its exit code and output lines.
    param([string] $Command, [string[]] $Arguments = @(), [hashtable] $Environment = @{})
    $saved = @{}
    foreach ($name in $Environment.Keys) {
        $saved[$name] = [System.Environment]::GetEnvironmentVariable($name)
        [System.Environment]::SetEnvironmentVariable($name, $Environment[$name])
    }
    try {
        $child = @('-NoProfile', '-NonInteractive')
        if ($Command) { $child += @('-Command', $Command) }
        $output = & (Get-HostExecutable) @child @Arguments 2>&1 | ForEach-Object { [string]$_ }
        return [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = @($output) }
    } finally {
        foreach ($name in $saved.Keys) { [System.Environment]::SetEnvironmentVariable($name, $saved[$name]) }
    }
}
