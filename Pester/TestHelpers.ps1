# Helpers shared by the Pester files. Dot-sourced after bootstrap.ps1 in each file's BeforeAll.

function Get-ThrownExitCode {
    # Runs a script block and returns the exit code carried by what it throws ($null if nothing).
    param([scriptblock] $ScriptBlock)
    try {
        $null = & $ScriptBlock
    }
    catch {
        return (Get-ErrorExitCode -ErrorRecord $_)
    }
    return $null
}

function Get-ThrownMessage {
    # Runs a script block and returns the message of what it throws ($null if nothing).
    param([scriptblock] $ScriptBlock)
    try {
        $null = & $ScriptBlock
    }
    catch {
        return $_.Exception.Message
    }
    return $null
}

function New-TestConfig {
    # A resolved configuration like Resolve-BootstrapConfig returns, with overrides.
    param([hashtable] $Override = @{})
    $homePath = 'C:\Users\tester\AppData\Local\pybootstrap'
    $config = [ordered]@{
        Prefix = 'C:\pyb\conda'
        HomePath = $homePath
        Distribution = 'Miniforge'
        InstallerUrl = ''
        InstallerBaseUrl = ''
        InstallerSha256 = ''
        InstallerSigner = ''
        AcceptAnacondaTos = $false
        CondaChannel = 'conda-forge'
        PythonVersion = '3.12'
        PythonExe = ''
        NoExistingPython = $false
        Source = ''
        SourceSha256 = ''
        Offline = $false
        Proxy = ''
        ProxyUseDefaultCredentials = $false
        NoProxy = $false
        DownloadRetries = 2
        DryRun = $false
        Yes = $false
        LogPath = ''
        Force = $false
        EnableLongPaths = $false
        PybootstrapArgs = @()
        Verbose = $false
        IsSystem = $false
        ToolVenv = $homePath + '\tool\venv'
        ToolPython = $homePath + '\tool\venv\Scripts\python.exe'
        StateFile = $homePath + '\bootstrap-state.json'
        TempDirectory = 'C:\Temp\pybootstrap-test'
        Sources = [ordered]@{}
    }
    foreach ($key in @($Override.Keys)) {
        $config[$key] = $Override[$key]
    }
    return [pscustomobject]$config
}

function New-ProbeResult {
    # What Invoke-ProcessCapture returns when a Python answers the probe.
    param(
        [string] $Executable = 'C:\Python312\python.exe',
        [string] $Version = '3.12.4',
        [int] $Bits = 64,
        [bool] $Venv = $true,
        [int] $ExitCode = 0
    )
    $venvText = 'false'
    if ($Venv) {
        $venvText = 'true'
    }
    $json = '{"executable": "' + $Executable.Replace('\', '\\') + '", "version": [' + ($Version.Split('.') -join ', ') +
        '], "bits": ' + $Bits + ', "prefix": "C:\\Python312", "platform": "win-amd64", "venv": ' + $venvText + '}'
    return [pscustomobject]@{ ExitCode = $ExitCode; StdOut = $json; StdErr = ''; TimedOut = $false }
}

function New-UsablePython {
    # A probe verdict for a usable interpreter.
    param(
        [string] $Executable = 'C:\Python312\python.exe',
        [string] $Source = 'registry'
    )
    return [pscustomobject]@{
        Usable = $true
        Reason = ''
        Path = $Executable
        Executable = $Executable
        Version = '3.12.4'
        Bits = 64
        Prefix = 'C:\Python312'
        Platform = 'win-amd64'
        Source = $Source
    }
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
