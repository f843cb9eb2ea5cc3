<#
.SYNOPSIS
    Bootstraps pybootstrap on Windows: finds or installs Python, installs pybootstrap into its own
    tool environment, then runs "python -m pybootstrap install".

.DESCRIPTION
    Runs in Windows PowerShell 5.1 and PowerShell 7, interactively or unattended (Intune, SCCM,
    GPO, as SYSTEM or as a user). It never prompts.

    1. Checks the session: language mode, PowerShell version, Windows version, architecture,
       long path support and free disk space.
    2. Finds Python 3.9+ (its own earlier install, PEP 514 registry entries, the py launcher, PATH
       without the Microsoft Store stub), probing each candidate. If none is usable it installs
       Miniconda or Miniforge per user (per machine when run as SYSTEM), silently, into a short
       path without spaces, after checking the installer's SHA256 and Authenticode signature.
    3. Creates the tool environment <home>\tool\venv and installs pybootstrap into it from its own
       source (this folder, a pinned archive, or a local/UNC folder); never by name from an index.
    4. Runs "<home>\tool\venv\Scripts\python.exe -m pybootstrap install <pass-through arguments>"
       and returns its exit code unchanged.

    Every parameter defaults from an environment variable (see README.md, "Windows bootstrap and fleets"), so the
    "irm <url> | iex" form can be configured too. Exit codes: 0 ok, 2 usage, 4 install step
    failed, 6 network or download failure, 8 environment problem, 9 integrity failure,
    130 interrupted; pybootstrap's own exit code is passed through unchanged.

.EXAMPLE
    irm https://example.invalid/bootstrap.ps1 | iex

.EXAMPLE
    & ([scriptblock]::Create((irm https://example.invalid/bootstrap.ps1))) -Distribution Miniforge --torch 2.5.1

.EXAMPLE
    powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File bootstrap.ps1 -Yes -Distribution Miniforge
#>
[CmdletBinding(PositionalBinding = $false)]
param(
    # Where Miniconda/Miniforge is installed when no usable Python exists. Default: <home>\conda.
    [string] $Prefix = $env:PYBOOTSTRAP_PREFIX,
    # The pybootstrap home. Default: %LOCALAPPDATA%\pybootstrap (%ProgramData%\pybootstrap as SYSTEM).
    [string] $HomePath = $env:PYBOOTSTRAP_HOME,
    # Miniconda (default) or Miniforge (conda-forge only; recommended for organisations).
    [string] $Distribution = $env:PYBOOTSTRAP_DISTRIBUTION,
    # Full URL or path of the installer (needs -InstallerSha256 or a .sha256 file beside it over HTTPS).
    [string] $InstallerUrl = $env:PYBOOTSTRAP_INSTALLER_URL,
    # A mirror (URL or folder) that holds the pinned installer under its original file name.
    [string] $InstallerBaseUrl = $env:PYBOOTSTRAP_INSTALLER_BASE_URL,
    # Expected SHA256 of the installer.
    [string] $InstallerSha256 = $env:PYBOOTSTRAP_INSTALLER_SHA256,
    # Regular expression the installer's Authenticode signer subject must match.
    [string] $InstallerSigner = $env:PYBOOTSTRAP_INSTALLER_SIGNER,
    # Explicitly accept Anaconda's Terms of Service for Miniconda's default channels.
    [switch] $AcceptAnacondaTos = ($env:PYBOOTSTRAP_ACCEPT_ANACONDA_TOS -match '^\s*(1|true|yes|on)\s*$'),
    # The conda channel (name or mirror URL) for the Python environment. Default: conda-forge.
    [string] $CondaChannel = $env:PYBOOTSTRAP_CONDA_CHANNEL,
    # Python version of the conda environment created after a new install ("base" = the installer's own).
    [string] $PythonVersion = $env:PYBOOTSTRAP_CONDA_PYTHON_VERSION,
    # Use exactly this Python interpreter (it is probed first).
    [string] $PythonExe = $env:PYBOOTSTRAP_PYTHON_EXE,
    # Ignore Pythons that pybootstrap did not install; use (or install) its own.
    [switch] $NoExistingPython = ($env:PYBOOTSTRAP_NO_EXISTING_PYTHON -match '^\s*(1|true|yes|on)\s*$'),
    # pybootstrap's source: a folder, a wheel folder, a UNC path, or a .zip/.tar.gz/.whl path or URL.
    [string] $Source = $env:PYBOOTSTRAP_SOURCE,
    # Expected SHA256 of a -Source archive.
    [string] $SourceSha256 = $env:PYBOOTSTRAP_SOURCE_SHA256,
    # No network: every download must come from a local or UNC path.
    [switch] $Offline = ($env:PYBOOTSTRAP_OFFLINE -match '^\s*(1|true|yes|on)\s*$'),
    # Explicit proxy, e.g. http://proxy.corp:8080 (credentials as http://user:password@host:port).
    [string] $Proxy = $env:PYBOOTSTRAP_PROXY,
    # Authenticate to the explicit proxy with the current Windows credentials.
    [switch] $ProxyUseDefaultCredentials = ($env:PYBOOTSTRAP_PROXY_USE_DEFAULT_CREDENTIALS -match '^\s*(1|true|yes|on)\s*$'),
    # Use no proxy at all (not even the system proxy).
    [switch] $NoProxy = ($env:PYBOOTSTRAP_NO_PROXY -match '^\s*(1|true|yes|on)\s*$'),
    # Download retries after the first attempt (0-20). Default: 4.
    [string] $DownloadRetries = $env:PYBOOTSTRAP_DOWNLOAD_RETRIES,
    # Show the plan and change nothing (passes --dry-run to pybootstrap when it is already installed).
    [switch] $DryRun = ($env:PYBOOTSTRAP_DRY_RUN -match '^\s*(1|true|yes|on)\s*$'),
    # Assume yes. The script never prompts; this is accepted so fleet command lines can say so.
    [switch] $Yes = ($env:PYBOOTSTRAP_YES -match '^\s*(1|true|yes|on)\s*$'),
    # Log file. Default: <home>\logs\bootstrap-<timestamp>.log.
    [string] $LogPath = $env:PYBOOTSTRAP_LOG_PATH,
    # Re-probe everything and rebuild the tool environment.
    [switch] $Force = ($env:PYBOOTSTRAP_FORCE -match '^\s*(1|true|yes|on)\s*$'),
    # Turn on LongPathsEnabled (needs administrator rights).
    [switch] $EnableLongPaths = ($env:PYBOOTSTRAP_ENABLE_LONG_PATHS -match '^\s*(1|true|yes|on)\s*$'),
    # Everything else is passed to "python -m pybootstrap install".
    [Parameter(ValueFromRemainingArguments = $true)]
    [object[]] $PybootstrapArgs = ($env:PYBOOTSTRAP_ARGS -split '\s+' | Where-Object { $_ })
)

# ---------------------------------------------------------------------------------------------
# Constants and tables
# ---------------------------------------------------------------------------------------------

function Get-BootstrapConstants {
    <# Pinned versions, URLs and SHA256 values. Bump deliberately, together. #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param()

    # pybootstrap itself. The release process stamps $PybootstrapArchiveSha256; while it is empty
    # the SHA256 is read from "<archive URL>.sha256", published beside the archive and fetched
    # over HTTPS from the same origin (see README.md, "Publishing a release").
    $PybootstrapVersion = '0.1.0'
    $PybootstrapArchiveUrl = 'https://github.com/pybootstrap/pybootstrap/releases/download/v0.1.0/pybootstrap-0.1.0.tar.gz'
    $PybootstrapArchiveSha256 = ''

    # Miniconda: SHA256 from the official table in conda/conda-docs
    # (docs/source/miniconda-other-installer-links.rst, "Python 3.11, Miniconda3 Windows 64-bit").
    # Anaconda signs its Windows installers (signer subject contains "Anaconda").
    $MinicondaVersion = 'py311_23.5.2-0'
    $MinicondaFileName = 'Miniconda3-py311_23.5.2-0-Windows-x86_64.exe'
    $MinicondaUrl = 'https://repo.anaconda.com/miniconda/Miniconda3-py311_23.5.2-0-Windows-x86_64.exe'
    $MinicondaSha256 = '00e8370542836862d4c790aa8966f1d7344a8addd4b766004febcb23f40e2914'

    # Miniforge: release 26.3.2-3 (2026-06-01); SHA256 as published on the release's .sha256 file
    # (conda-forge.org/miniforge). Windows installers are Authenticode-signed since May 2026
    # (conda-forge/miniforge#874); pin the signer with -InstallerSigner if your policy requires it.
    $MiniforgeVersion = '26.3.2-3'
    $MiniforgeFileName = 'Miniforge3-26.3.2-3-Windows-x86_64.exe'
    $MiniforgeUrl = 'https://github.com/conda-forge/miniforge/releases/download/26.3.2-3/Miniforge3-26.3.2-3-Windows-x86_64.exe'
    $MiniforgeSha256 = '14a8635465b5190537ddad6286746ffebbc55a1ed2a7bb14a506595fe3191e1e'

    return @{
        BootstrapVersion = $PybootstrapVersion
        PybootstrapArchiveUrl = $PybootstrapArchiveUrl
        PybootstrapArchiveSha256 = $PybootstrapArchiveSha256
        MinimumPython = '3.9'
        DefaultPythonVersion = '3.12'
        DefaultCondaChannel = 'conda-forge'
        DefaultDownloadRetries = 4
        Miniconda = @{
            Name = 'Miniconda'
            Version = $MinicondaVersion
            FileName = $MinicondaFileName
            Url = $MinicondaUrl
            Sha256 = $MinicondaSha256
            SignerPattern = 'Anaconda'
        }
        Miniforge = @{
            Name = 'Miniforge'
            Version = $MiniforgeVersion
            FileName = $MiniforgeFileName
            Url = $MiniforgeUrl
            Sha256 = $MiniforgeSha256
            SignerPattern = ''
        }
    }
}

function Get-ParameterEnvironmentMap {
    <# The parameter / environment-variable table (also documented in README.md). #>
    [CmdletBinding()]
    param()
    $map = [ordered]@{}
    $map['Prefix'] = 'PYBOOTSTRAP_PREFIX'
    $map['HomePath'] = 'PYBOOTSTRAP_HOME'
    $map['Distribution'] = 'PYBOOTSTRAP_DISTRIBUTION'
    $map['InstallerUrl'] = 'PYBOOTSTRAP_INSTALLER_URL'
    $map['InstallerBaseUrl'] = 'PYBOOTSTRAP_INSTALLER_BASE_URL'
    $map['InstallerSha256'] = 'PYBOOTSTRAP_INSTALLER_SHA256'
    $map['InstallerSigner'] = 'PYBOOTSTRAP_INSTALLER_SIGNER'
    $map['AcceptAnacondaTos'] = 'PYBOOTSTRAP_ACCEPT_ANACONDA_TOS'
    $map['CondaChannel'] = 'PYBOOTSTRAP_CONDA_CHANNEL'
    # Not PYBOOTSTRAP_PYTHON_VERSION: that one is pybootstrap's own --python-version (a what-if flag).
    $map['PythonVersion'] = 'PYBOOTSTRAP_CONDA_PYTHON_VERSION'
    # Not PYBOOTSTRAP_PYTHON: that one is pybootstrap's own --python (the target interpreter).
    $map['PythonExe'] = 'PYBOOTSTRAP_PYTHON_EXE'
    $map['NoExistingPython'] = 'PYBOOTSTRAP_NO_EXISTING_PYTHON'
    $map['Source'] = 'PYBOOTSTRAP_SOURCE'
    $map['SourceSha256'] = 'PYBOOTSTRAP_SOURCE_SHA256'
    $map['Offline'] = 'PYBOOTSTRAP_OFFLINE'
    $map['Proxy'] = 'PYBOOTSTRAP_PROXY'
    $map['ProxyUseDefaultCredentials'] = 'PYBOOTSTRAP_PROXY_USE_DEFAULT_CREDENTIALS'
    $map['NoProxy'] = 'PYBOOTSTRAP_NO_PROXY'
    $map['DownloadRetries'] = 'PYBOOTSTRAP_DOWNLOAD_RETRIES'
    $map['DryRun'] = 'PYBOOTSTRAP_DRY_RUN'
    $map['Yes'] = 'PYBOOTSTRAP_YES'
    $map['LogPath'] = 'PYBOOTSTRAP_LOG_PATH'
    $map['Force'] = 'PYBOOTSTRAP_FORCE'
    $map['EnableLongPaths'] = 'PYBOOTSTRAP_ENABLE_LONG_PATHS'
    $map['PybootstrapArgs'] = 'PYBOOTSTRAP_ARGS'
    return $map
}

# ---------------------------------------------------------------------------------------------
# Termination, errors, logging
# ---------------------------------------------------------------------------------------------

function Exit-Bootstrap {
    <# The only place that ends the script. Under "irm | iex" (no script file) it must not call
       "exit", which would close the user's window: it sets $LASTEXITCODE and returns. #>
    [CmdletBinding()]
    param(
        [object] $Code = 0,
        [bool] $ViaIex = $false
    )
    $value = 1
    $last = @($Code) | Select-Object -Last 1
    if ($null -ne $last) {
        try { $value = [int]$last } catch { $value = 1 }
    }
    $global:LASTEXITCODE = $value
    if ($ViaIex) {
        return
    }
    exit $value
}

function New-BootstrapError {
    <# An exception that carries the contract exit code. #>
    [CmdletBinding()]
    param(
        [string] $Message = 'unexpected error',
        [int] $ExitCode = 1
    )
    $exception = New-Object -TypeName System.Exception -ArgumentList $Message
    $exception.Data['PybootstrapExitCode'] = $ExitCode
    return $exception
}

function Get-ErrorExitCode {
    <# The exit code carried by an error record or exception (1 = unexpected, a bug). #>
    [CmdletBinding()]
    [OutputType([int])]
    param([object] $ErrorRecord)
    $exception = $null
    if ($ErrorRecord -is [System.Management.Automation.ErrorRecord]) {
        $exception = $ErrorRecord.Exception
    }
    elseif ($ErrorRecord -is [System.Exception]) {
        $exception = $ErrorRecord
    }
    while ($null -ne $exception) {
        if ($null -ne $exception.Data -and $exception.Data.Contains('PybootstrapExitCode')) {
            return [int]$exception.Data['PybootstrapExitCode']
        }
        $exception = $exception.InnerException
    }
    return 1
}

function ConvertTo-RedactedText {
    <# Hides secrets: passwords in URLs, token-like query values and registered secrets. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([AllowEmptyString()] [AllowNull()] [string] $Text)
    if ([string]::IsNullOrEmpty($Text)) {
        return ''
    }
    $result = $Text -replace '(?i)([a-z][a-z0-9+.-]*://)([^/@\s:]+):([^/@\s]+)@', '$1$2:***@'
    $result = $result -replace '(?i)([?&](token|access_token|auth|key|sig|signature|password|passwd|secret|api_key|apikey)=)[^&\s]+', '$1***'
    $result = $result -replace '(?i)(authorization:\s*(bearer|basic)\s+)\S+', '$1***'
    $secrets = $script:PybootstrapSecrets
    if ($null -ne $secrets) {
        foreach ($secret in @($secrets)) {
            if (-not [string]::IsNullOrEmpty($secret) -and $secret.Length -ge 3) {
                $result = $result.Replace([string]$secret, '***')
            }
        }
    }
    return $result
}

function Add-LogSecret {
    <# Registers a value that Write-Log must never print. #>
    [CmdletBinding()]
    param([string] $Secret)
    if ([string]::IsNullOrEmpty($Secret)) {
        return
    }
    if ($null -eq $script:PybootstrapSecrets) {
        $script:PybootstrapSecrets = @()
    }
    $script:PybootstrapSecrets = @($script:PybootstrapSecrets) + @($Secret)
}

function Write-Utf8File {
    <# Writes text as UTF-8 without BOM (Out-File -Encoding utf8 adds a BOM in 5.1), atomically. #>
    [CmdletBinding()]
    param(
        [string] $Path,
        [AllowEmptyString()] [string] $Content = '',
        [switch] $Append
    )
    $full = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
    $encoding = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    $directory = [System.IO.Path]::GetDirectoryName($full)
    if ($directory -and -not (Test-Path -LiteralPath $directory)) {
        $null = New-Item -ItemType Directory -Path $directory -Force -ErrorAction Stop
    }
    if ($Append) {
        [System.IO.File]::AppendAllText($full, $Content, $encoding)
        return
    }
    $temporary = $full + '.tmp'
    [System.IO.File]::WriteAllText($temporary, $Content, $encoding)
    Move-Item -LiteralPath $temporary -Destination $full -Force
}

function Initialize-Log {
    <# Chooses the log file; falls back to %TEMP% and then to the console only. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([string] $Path)
    $script:PybootstrapLogFile = $null
    $candidates = @($Path)
    $temp = [System.IO.Path]::GetTempPath()
    if ($temp) {
        $candidates += (Join-WinPath $temp ('pybootstrap-bootstrap-' + (Get-Date).ToString('yyyyMMdd-HHmmss') + '.log'))
    }
    foreach ($candidate in $candidates) {
        if ([string]::IsNullOrEmpty($candidate)) {
            continue
        }
        try {
            Write-Utf8File -Path $candidate -Content '' -Append
            $script:PybootstrapLogFile = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($candidate)
            return $script:PybootstrapLogFile
        }
        catch {
            Write-Host ('[pybootstrap] WARNING: cannot write the log file ' + $candidate + ': ' + $_.Exception.Message) -ForegroundColor Yellow
        }
    }
    return $null
}

function Clear-LogState {
    <# Forgets the log file and secrets, so nothing lingers in an "iex" caller's session. #>
    [CmdletBinding()]
    param()
    Remove-Variable -Name PybootstrapLogFile -Scope Script -ErrorAction SilentlyContinue
    Remove-Variable -Name PybootstrapSecrets -Scope Script -ErrorAction SilentlyContinue
}

function Write-Log {
    <# One line to the console and to the UTF-8 log file, with secrets redacted. Never throws. #>
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)] [AllowEmptyString()] [AllowNull()] [string] $Message = '',
        [ValidateSet('Info', 'Warn', 'Error', 'Detail')] [string] $Level = 'Info'
    )
    $text = ConvertTo-RedactedText -Text $Message
    $file = $script:PybootstrapLogFile
    if ($file) {
        try {
            $line = '{0} [{1}] {2}' -f (Get-Date).ToString('yyyy-MM-dd HH:mm:ss'), $Level.ToUpperInvariant(), $text
            Write-Utf8File -Path $file -Content ($line + "`r`n") -Append
        }
        catch {
            $script:PybootstrapLogFile = $null
        }
    }
    if ($Level -eq 'Error') {
        Write-Host ('[pybootstrap] ERROR: ' + $text) -ForegroundColor Red
    }
    elseif ($Level -eq 'Warn') {
        Write-Host ('[pybootstrap] WARNING: ' + $text) -ForegroundColor Yellow
    }
    elseif ($Level -eq 'Detail') {
        if ($VerbosePreference -ne 'SilentlyContinue') {
            Write-Host ('    ' + $text) -ForegroundColor DarkGray
        }
    }
    else {
        Write-Host ('[pybootstrap] ' + $text)
    }
}

# ---------------------------------------------------------------------------------------------
# Small helpers (pure)
# ---------------------------------------------------------------------------------------------

function Join-WinPath {
    <# Joins path parts with a backslash, without touching the drive (Join-Path fails on a missing
       drive). A path that starts with "/" keeps "/" so the Pester suite also runs on Linux. #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $Path,
        [string] $ChildPath
    )
    if ([string]::IsNullOrEmpty($Path)) {
        return $ChildPath
    }
    if ([string]::IsNullOrEmpty($ChildPath)) {
        return $Path
    }
    $separator = '\'
    if ($Path.StartsWith('/')) {
        $separator = '/'
        $ChildPath = $ChildPath.Replace('\', '/')
    }
    return $Path.TrimEnd('\', '/') + $separator + $ChildPath.TrimStart('\', '/')
}

function ConvertTo-BoolSetting {
    <# true/false from a switch, a bool, or an environment-style string (1, true, yes, on). #>
    [CmdletBinding()]
    [OutputType([bool])]
    param([object] $Value)
    if ($null -eq $Value) {
        return $false
    }
    if ($Value -is [bool]) {
        return $Value
    }
    if ($Value -is [System.Management.Automation.SwitchParameter]) {
        return $Value.IsPresent
    }
    return ([string]$Value -match '^\s*(1|true|yes|on)\s*$')
}

function Test-IsUrl {
    <# True for http:// and https:// URLs. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param([string] $Value)
    return ($Value -match '^(?i)https?://')
}

function Test-Sha256Format {
    <# True for a 64-digit hexadecimal SHA256. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param([string] $Value)
    return ($Value -match '^[0-9a-fA-F]{64}$')
}

function ConvertTo-QuotedArgument {
    <# Quotes one argument for a Windows command line (CommandLineToArgvW rules). #>
    [CmdletBinding()]
    [OutputType([string])]
    param([AllowEmptyString()] [AllowNull()] [string] $Argument)
    if ([string]::IsNullOrEmpty($Argument)) {
        return '""'
    }
    if ($Argument -notmatch '[\s"]') {
        return $Argument
    }
    $builder = New-Object -TypeName System.Text.StringBuilder
    $null = $builder.Append('"')
    $backslashes = 0
    foreach ($character in $Argument.ToCharArray()) {
        if ($character -eq '\') {
            $backslashes++
            continue
        }
        if ($character -eq '"') {
            $null = $builder.Append('\' * ($backslashes * 2 + 1))
            $null = $builder.Append('"')
        }
        else {
            $null = $builder.Append('\' * $backslashes)
            $null = $builder.Append($character)
        }
        $backslashes = 0
    }
    $null = $builder.Append('\' * ($backslashes * 2))
    $null = $builder.Append('"')
    return $builder.ToString()
}

function ConvertTo-CommandLine {
    <# Joins arguments into one Windows command-line string. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([string[]] $ArgumentList = @())
    $parts = @()
    foreach ($argument in @($ArgumentList)) {
        $parts += (ConvertTo-QuotedArgument -Argument $argument)
    }
    return ($parts -join ' ')
}

function Format-CommandLine {
    <# A command line for the log (quoted; secrets are redacted by Write-Log). #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $FilePath,
        [string[]] $ArgumentList = @()
    )
    $line = ConvertTo-QuotedArgument -Argument $FilePath
    $rest = ConvertTo-CommandLine -ArgumentList $ArgumentList
    if ($rest) {
        $line = $line + ' ' + $rest
    }
    return $line
}

function ConvertFrom-Sha256File {
    <# The SHA256 in a ".sha256" file ("<hash>  <file name>" or just the hash), lower case. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([AllowEmptyString()] [AllowNull()] [string] $Text)
    if ($Text -match '(?i)(^|[^0-9a-f])([0-9a-f]{64})($|[^0-9a-f])') {
        return $Matches[2].ToLowerInvariant()
    }
    return $null
}

function Get-HttpStatusCode {
    <# The HTTP status code inside an exception chain (WebException.Response), or $null. #>
    [CmdletBinding()]
    param([object] $Exception)
    $current = $Exception
    $depth = 0
    while ($null -ne $current -and $depth -lt 10) {
        $response = $null
        try { $response = $current.Response } catch { $response = $null }
        if ($null -ne $response) {
            $status = $null
            try { $status = $response.StatusCode } catch { $status = $null }
            if ($null -ne $status) {
                return [int]$status
            }
        }
        $inner = $null
        try { $inner = $current.InnerException } catch { $inner = $null }
        $current = $inner
        $depth++
    }
    return $null
}

function Test-IsWindowsAppsPath {
    <# True for paths under ...\WindowsApps\ (Store aliases and the "python.exe" stub). #>
    [CmdletBinding()]
    [OutputType([bool])]
    param([string] $Path)
    return ($Path -match '(?i)\\WindowsApps\\')
}

function ConvertTo-VersionOrZero {
    <# A [version] from text such as "3.12", "3.12.4" or "3.11-32"; 0.0 when there is none. #>
    [CmdletBinding()]
    [OutputType([version])]
    param([string] $Text)
    if ($Text -match '(\d+)\.(\d+)(\.(\d+))?') {
        $patch = 0
        if ($Matches[4]) {
            $patch = [int]$Matches[4]
        }
        return (New-Object -TypeName System.Version -ArgumentList ([int]$Matches[1]), ([int]$Matches[2]), $patch)
    }
    return (New-Object -TypeName System.Version -ArgumentList 0, 0)
}

# ---------------------------------------------------------------------------------------------
# Wrappers around the outside world (each one is mocked in the Pester suite)
# ---------------------------------------------------------------------------------------------

function Get-LanguageMode {
    <# The session's language mode (FullLanguage, ConstrainedLanguage, ...). #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    return [string]$ExecutionContext.SessionState.LanguageMode
}

function Get-PSVersion {
    <# $PSVersionTable.PSVersion. #>
    [CmdletBinding()]
    [OutputType([version])]
    param()
    return [version]$PSVersionTable.PSVersion.ToString().Split('-')[0]
}

function Test-IsWindowsPlatform {
    <# True on Windows, in 5.1 and 7 alike ($IsWindows does not exist in 5.1). #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    return ([System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT)
}

function Test-Is64BitProcess {
    <# True in a 64-bit PowerShell process. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    return [System.Environment]::Is64BitProcess
}

function Test-IsInteractive {
    <# True in an interactive session that was not started with -NonInteractive. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    if (-not [System.Environment]::UserInteractive) {
        return $false
    }
    foreach ($argument in [System.Environment]::GetCommandLineArgs()) {
        if ($argument -match '^-noni') {
            return $false
        }
    }
    return $true
}

function Test-IsAdmin {
    <# True when running elevated. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    try {
        $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
        $principal = New-Object -TypeName System.Security.Principal.WindowsPrincipal -ArgumentList $identity
        return $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
    }
    catch {
        return $false
    }
}

function Test-IsSystem {
    <# True when running as LocalSystem (S-1-5-18), e.g. from Intune, SCCM or a GPO startup script. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    try {
        return ([System.Security.Principal.WindowsIdentity]::GetCurrent().User.Value -eq 'S-1-5-18')
    }
    catch {
        return $false
    }
}

function Get-RegistryValue {
    <# One registry value, or $null when the key or value is missing. #>
    [CmdletBinding()]
    param(
        [string] $Path,
        [string] $Name
    )
    try {
        $item = Get-ItemProperty -LiteralPath $Path -Name $Name -ErrorAction Stop
        return $item.$Name
    }
    catch {
        return $null
    }
}

function Set-RegistryValue {
    <# Writes a DWORD registry value. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [string] $Path,
        [string] $Name,
        [int] $Value
    )
    if ($PSCmdlet.ShouldProcess($Path + '\' + $Name, 'Set to ' + $Value)) {
        $null = New-ItemProperty -LiteralPath $Path -Name $Name -Value $Value -PropertyType DWord -Force -ErrorAction Stop
    }
}

function Get-PythonRegistryEntries {
    <# PEP 514 registrations from HKCU, HKLM (64-bit view) and HKLM (32-bit view), in that order. #>
    [CmdletBinding()]
    param()
    $roots = @(
        @{ Hive = 'CurrentUser'; View = 'Default'; Label = 'HKCU' },
        @{ Hive = 'LocalMachine'; View = 'Registry64'; Label = 'HKLM64' },
        @{ Hive = 'LocalMachine'; View = 'Registry32'; Label = 'HKLM32' }
    )
    foreach ($root in $roots) {
        $base = $null
        try {
            $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]$root.Hive, [Microsoft.Win32.RegistryView]$root.View)
            $pythonKey = $base.OpenSubKey('Software\Python')
            if ($null -eq $pythonKey) {
                continue
            }
            foreach ($company in $pythonKey.GetSubKeyNames()) {
                if ($company -eq 'PyLauncher') {
                    continue
                }
                $companyKey = $pythonKey.OpenSubKey($company)
                if ($null -eq $companyKey) {
                    continue
                }
                foreach ($tag in $companyKey.GetSubKeyNames()) {
                    $tagKey = $companyKey.OpenSubKey($tag)
                    if ($null -eq $tagKey) {
                        continue
                    }
                    $installKey = $tagKey.OpenSubKey('InstallPath')
                    if ($null -eq $installKey) {
                        # "Registration is incomplete" (pymanager pep514utils): skip it.
                        continue
                    }
                    $version = [string]$tagKey.GetValue('SysVersion')
                    if (-not $version) {
                        $version = [string]$tagKey.GetValue('Version')
                    }
                    [pscustomobject]@{
                        Root = $root.Label
                        Company = $company
                        Tag = $tag
                        InstallPath = [string]$installKey.GetValue('')
                        ExecutablePath = [string]$installKey.GetValue('ExecutablePath')
                        Version = $version
                    }
                }
            }
        }
        catch {
            Write-Log -Level Detail -Message ('Could not read ' + $root.Label + '\Software\Python: ' + $_.Exception.Message)
        }
        finally {
            if ($null -ne $base) {
                $base.Close()
            }
        }
    }
}

function Get-CommandPath {
    <# Full paths of the applications called Name on PATH. #>
    [CmdletBinding()]
    param([string] $Name)
    $commands = @(Get-Command -Name $Name -CommandType Application -All -ErrorAction SilentlyContinue)
    foreach ($command in $commands) {
        if ($command.Source) {
            $command.Source
        }
        elseif ($command.Path) {
            $command.Path
        }
    }
}

function Get-ScriptDirectory {
    <# The folder this script sits in; empty under "irm | iex". #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    return [string]$PSScriptRoot
}

function Test-PathExists {
    <# Test-Path -LiteralPath with an optional path type. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [string] $Path,
        [ValidateSet('Any', 'Container', 'Leaf')] [string] $PathType = 'Any'
    )
    if ([string]::IsNullOrEmpty($Path)) {
        return $false
    }
    return (Test-Path -LiteralPath $Path -PathType $PathType)
}

function Get-DirectoryEntryNames {
    <# Names of the entries in a folder (empty when it does not exist). #>
    [CmdletBinding()]
    param(
        [string] $Path,
        [string] $Filter = '*'
    )
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) {
        return
    }
    Get-ChildItem -LiteralPath $Path -Force -ErrorAction SilentlyContinue |
        Where-Object { $_.Name -like $Filter } |
        ForEach-Object { $_.Name }
}

function Get-FreeSpaceBytes {
    <# Free bytes on the drive of Path, or $null when unknown (UNC, missing drive). #>
    [CmdletBinding()]
    param([string] $Path)
    try {
        $root = [System.IO.Path]::GetPathRoot($Path)
        if ([string]::IsNullOrEmpty($root) -or $root.StartsWith('\\')) {
            return $null
        }
        $drive = New-Object -TypeName System.IO.DriveInfo -ArgumentList $root
        return [long]$drive.AvailableFreeSpace
    }
    catch {
        return $null
    }
}

function Get-FileSha256 {
    <# The SHA256 of a file, lower case. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([string] $Path)
    return (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
}

function Get-SignatureStatus {
    <# The Authenticode status and signer subject of a file. #>
    [CmdletBinding()]
    param([string] $Path)
    $signature = Get-AuthenticodeSignature -LiteralPath $Path
    $subject = ''
    if ($null -ne $signature.SignerCertificate) {
        $subject = [string]$signature.SignerCertificate.Subject
    }
    return [pscustomobject]@{
        Status = [string]$signature.Status
        Subject = $subject
        Message = [string]$signature.StatusMessage
    }
}

function Get-SystemProxyUri {
    <# The system (WinINet/WinHTTP) proxy for a URL, or $null when the URL goes direct. #>
    [CmdletBinding()]
    param([string] $Url = 'https://pypi.org/')
    try {
        $target = New-Object -TypeName System.Uri -ArgumentList $Url
        $systemProxy = [System.Net.WebRequest]::GetSystemWebProxy()
        if ($systemProxy.IsBypassed($target)) {
            return $null
        }
        $proxyUri = $systemProxy.GetProxy($target)
        if ($null -eq $proxyUri -or $proxyUri.AbsoluteUri -eq $target.AbsoluteUri) {
            return $null
        }
        return $proxyUri.AbsoluteUri.TrimEnd('/')
    }
    catch {
        return $null
    }
}

function Invoke-Download {
    <# Downloads one URL to a file with System.Net.WebClient (fast, no progress bar). #>
    [CmdletBinding()]
    param(
        [string] $Url,
        [string] $OutFile,
        [object] $ProxySettings
    )
    $target = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutFile)
    $client = New-Object -TypeName System.Net.WebClient
    try {
        $client.Headers.Add('User-Agent', 'pybootstrap-bootstrap.ps1')
        $mode = 'System'
        if ($null -ne $ProxySettings -and $ProxySettings.Mode) {
            $mode = [string]$ProxySettings.Mode
        }
        if ($mode -eq 'None') {
            $client.Proxy = $null
        }
        elseif ($mode -eq 'System') {
            $systemProxy = [System.Net.WebRequest]::GetSystemWebProxy()
            $systemProxy.Credentials = [System.Net.CredentialCache]::DefaultCredentials
            $client.Proxy = $systemProxy
        }
        else {
            $webProxy = New-Object -TypeName System.Net.WebProxy -ArgumentList $ProxySettings.Uri
            if ($ProxySettings.UserName) {
                $webProxy.Credentials = New-Object -TypeName System.Net.NetworkCredential -ArgumentList ([string]$ProxySettings.UserName), ([string]$ProxySettings.Password)
            }
            elseif ($ProxySettings.UseDefaultCredentials) {
                $webProxy.UseDefaultCredentials = $true
            }
            $client.Proxy = $webProxy
        }
        $client.DownloadFile($Url, $target)
    }
    finally {
        $client.Dispose()
    }
}

function Wait-ProcessExit {
    <# Waits for a process in short steps, so that Ctrl+C stays responsive. False on timeout. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [object] $Process,
        [int] $TimeoutSeconds = 0
    )
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    while (-not $Process.WaitForExit(250)) {
        if ($TimeoutSeconds -gt 0 -and $watch.Elapsed.TotalSeconds -ge $TimeoutSeconds) {
            return $false
        }
    }
    $Process.WaitForExit()
    return $true
}

function Invoke-ProcessCapture {
    <# Runs a program with stdin closed, captures stdout/stderr, kills it after the timeout. #>
    [CmdletBinding()]
    param(
        [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [int] $TimeoutSeconds = 30,
        [hashtable] $Environment = @{}
    )
    $info = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $info.FileName = $FilePath
    $info.Arguments = ConvertTo-CommandLine -ArgumentList $ArgumentList
    # Windows PowerShell 5.1 does not keep the process directory in step with Set-Location
    $info.WorkingDirectory = (Get-Location -PSProvider FileSystem).ProviderPath
    $info.UseShellExecute = $false
    $info.RedirectStandardInput = $true
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.CreateNoWindow = $true
    foreach ($name in @($Environment.Keys)) {
        if ($null -eq $Environment[$name]) {
            if ($info.EnvironmentVariables.ContainsKey($name)) {
                $info.EnvironmentVariables.Remove($name)
            }
        }
        else {
            $info.EnvironmentVariables[$name] = [string]$Environment[$name]
        }
    }
    $process = New-Object -TypeName System.Diagnostics.Process
    $process.StartInfo = $info
    try {
        $null = $process.Start()
    }
    catch {
        return [pscustomobject]@{ ExitCode = -1; StdOut = ''; StdErr = $_.Exception.Message; TimedOut = $false }
    }
    try {
        $process.StandardInput.Close()
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if (-not (Wait-ProcessExit -Process $process -TimeoutSeconds $TimeoutSeconds)) {
            try { $process.Kill() } catch { $null = $_ }
            return [pscustomobject]@{ ExitCode = -1; StdOut = ''; StdErr = 'timed out'; TimedOut = $true }
        }
        # a grandchild that keeps the pipes open must not hang us after the process itself has exited
        $null = $stdout.Wait(5000)
        $null = $stderr.Wait(5000)
        $out = ''
        $err = ''
        if ($stdout.IsCompleted) { $out = [string]$stdout.Result }
        if ($stderr.IsCompleted) { $err = [string]$stderr.Result }
        return [pscustomobject]@{
            ExitCode = $process.ExitCode
            StdOut = $out
            StdErr = $err
            TimedOut = $false
        }
    }
    finally {
        $process.Dispose()
    }
}

function Invoke-NativeCommand {
    <# Runs a program (pip, venv, conda), copies its output to the log, returns exit code and output. #>
    [CmdletBinding()]
    param(
        [string] $FilePath,
        [string[]] $ArgumentList = @()
    )
    # Native stderr must not become a terminating error (5.1 with Stop; 7.3+ native preference).
    $ErrorActionPreference = 'Continue'
    $PSNativeCommandUseErrorActionPreference = $false
    Write-Log -Level Detail -Message ('Running: ' + (Format-CommandLine -FilePath $FilePath -ArgumentList $ArgumentList))
    $output = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $code = -1
    # A program that cannot start leaves $LASTEXITCODE alone: start from -1, not from the last run.
    $global:LASTEXITCODE = -1
    try {
        & $FilePath @ArgumentList 2>&1 | ForEach-Object {
            $line = [string]$_
            $output.Add($line)
            Write-Log -Level Detail -Message $line
        }
        $code = $global:LASTEXITCODE
    }
    catch {
        $output.Add($_.Exception.Message)
        Write-Log -Level Detail -Message $_.Exception.Message
        $code = -1
    }
    if ($null -eq $code) {
        $code = -1
    }
    return [pscustomobject]@{ ExitCode = [int]$code; Output = $output.ToArray() }
}

function Start-Installer {
    <# Runs the Miniconda/Miniforge installer with an exact argument string; returns its exit code. #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [string] $FilePath,
        [string] $ArgumentString,
        [int] $TimeoutSeconds = 1800
    )
    $info = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $info.FileName = $FilePath
    # Built by hand: NSIS wants "/D=<prefix>" last and unquoted.
    $info.Arguments = $ArgumentString
    $info.WorkingDirectory = (Get-Location -PSProvider FileSystem).ProviderPath
    $info.UseShellExecute = $false
    $info.CreateNoWindow = $true
    try {
        $process = [System.Diagnostics.Process]::Start($info)
    }
    catch {
        throw (New-BootstrapError -ExitCode 4 -Message ('Could not start the installer ' + $FilePath + ': ' + $_.Exception.Message +
            ' (antivirus software or an application control policy may be blocking it).'))
    }
    try {
        if (-not (Wait-ProcessExit -Process $process -TimeoutSeconds $TimeoutSeconds)) {
            try { $process.Kill() } catch { $null = $_ }
            throw (New-BootstrapError -ExitCode 4 -Message ('The installer did not finish within ' + [int]($TimeoutSeconds / 60) + ' minutes and was stopped.'))
        }
        return [int]$process.ExitCode
    }
    finally {
        $process.Dispose()
    }
}

function Invoke-Pybootstrap {
    <# Runs "python -m pybootstrap ..." on this console (colours, Ctrl+C) and returns its exit code. #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [string] $FilePath,
        [string[]] $ArgumentList = @()
    )
    $info = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $info.FileName = $FilePath
    $info.Arguments = ConvertTo-CommandLine -ArgumentList $ArgumentList
    $info.WorkingDirectory = (Get-Location -PSProvider FileSystem).ProviderPath
    $info.UseShellExecute = $false
    try {
        $process = [System.Diagnostics.Process]::Start($info)
    }
    catch {
        throw (New-BootstrapError -ExitCode 4 -Message ('Could not start ' + $FilePath + ': ' + $_.Exception.Message))
    }
    try {
        $null = Wait-ProcessExit -Process $process
        return [int]$process.ExitCode
    }
    finally {
        $process.Dispose()
    }
}

function Set-ProcessEnvironment {
    <# Sets (or, for $null, removes) process environment variables; returns the old values. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType([hashtable])]
    param([hashtable] $Values = @{})
    $backup = @{}
    foreach ($name in @($Values.Keys)) {
        $backup[$name] = [System.Environment]::GetEnvironmentVariable($name)
        if (-not $PSCmdlet.ShouldProcess('env:' + $name)) {
            continue
        }
        $value = $Values[$name]
        if ($null -eq $value -or [string]$value -eq '') {
            Remove-Item -LiteralPath ('Env:' + $name) -ErrorAction SilentlyContinue
        }
        else {
            Set-Item -LiteralPath ('Env:' + $name) -Value ([string]$value)
        }
    }
    return $backup
}

function Restore-ProcessEnvironment {
    <# Puts back what Set-ProcessEnvironment changed, so an "iex" caller's session is unchanged. #>
    [CmdletBinding()]
    param([hashtable] $Backup = @{})
    foreach ($name in @($Backup.Keys)) {
        $value = $Backup[$name]
        if ($null -eq $value -or [string]$value -eq '') {
            Remove-Item -LiteralPath ('Env:' + $name) -ErrorAction SilentlyContinue
        }
        else {
            Set-Item -LiteralPath ('Env:' + $name) -Value ([string]$value)
        }
    }
}

function New-TempDirectory {
    <# A fresh folder under %TEMP% for downloads; removed at the end of the run. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType([string])]
    param()
    $base = [System.IO.Path]::GetTempPath()
    if ([string]::IsNullOrEmpty($base)) {
        $base = Join-WinPath $env:SystemDrive 'temp'
    }
    $path = Join-WinPath $base ('pybootstrap-' + [guid]::NewGuid().ToString('N'))
    if ($PSCmdlet.ShouldProcess($path, 'Create directory')) {
        $null = New-Item -ItemType Directory -Path $path -Force
    }
    return $path
}

function Remove-TempDirectory {
    <# Removes a folder made by New-TempDirectory (and nothing else). #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string] $Path)
    if ([string]::IsNullOrEmpty($Path)) {
        return
    }
    $leaf = Split-Path -Path $Path -Leaf
    if ($leaf -notlike 'pybootstrap-*') {
        return
    }
    if ($PSCmdlet.ShouldProcess($Path, 'Remove directory')) {
        Remove-Item -LiteralPath $Path -Recurse -Force -ErrorAction SilentlyContinue
    }
}

# ---------------------------------------------------------------------------------------------
# Environment checks
# ---------------------------------------------------------------------------------------------

function Get-LanguageModeProblem {
    <# A plain-text explanation when the session is not FullLanguage; $null otherwise. #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $mode = Get-LanguageMode
    if ($mode -eq 'FullLanguage') {
        return $null
    }
    return ('[pybootstrap] ERROR: PowerShell runs in ' + $mode + ' mode here (an AppLocker or WDAC policy), ' +
        'where bootstrap.ps1 cannot work: it needs .NET calls to download and verify files. ' +
        'Ask your administrator to allow the signed bootstrap.ps1 (run it as a file: ' +
        'powershell.exe -NoProfile -ExecutionPolicy Bypass -File bootstrap.ps1), or install Python 3.9+ and run ' +
        '"python -m pip install <pybootstrap source>" and "python -m pybootstrap install" yourself. Exit code 8.')
}

function Assert-PowerShellVersion {
    <# Requires Windows PowerShell 5.1 or PowerShell 7. #>
    [CmdletBinding()]
    param([version] $MinimumVersion = '5.1')
    $version = Get-PSVersion
    if ($version -lt $MinimumVersion) {
        throw (New-BootstrapError -ExitCode 8 -Message ('PowerShell ' + $MinimumVersion + ' or newer is needed; this is ' + $version +
            '. Install Windows Management Framework 5.1 or PowerShell 7 (https://aka.ms/powershell) and run again.'))
    }
}

function Get-NativeArchitecture {
    <# The machine's real architecture (x86_64, arm64, x86), even from a 32-bit or emulated process. #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $value = Get-RegistryValue -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment' -Name 'PROCESSOR_ARCHITECTURE'
    if ([string]::IsNullOrEmpty($value)) {
        $value = $env:PROCESSOR_ARCHITEW6432
    }
    if ([string]::IsNullOrEmpty($value)) {
        $value = $env:PROCESSOR_ARCHITECTURE
    }
    if ([string]::IsNullOrEmpty($value)) {
        return 'unknown'
    }
    switch ($value.ToUpperInvariant()) {
        'AMD64' { return 'x86_64' }
        'ARM64' { return 'arm64' }
        'X86' { return 'x86' }
    }
    return $value.ToLowerInvariant()
}

function Get-WindowsVersion {
    <# The Windows version (10.0.x on Windows 10/11 and Server 2016+). #>
    [CmdletBinding()]
    [OutputType([version])]
    param()
    $key = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $major = Get-RegistryValue -Path $key -Name 'CurrentMajorVersionNumber'
    if ($null -eq $major) {
        # CurrentMajorVersionNumber exists from Windows 10 on.
        return [System.Environment]::OSVersion.Version
    }
    $minor = Get-RegistryValue -Path $key -Name 'CurrentMinorVersionNumber'
    $build = Get-RegistryValue -Path $key -Name 'CurrentBuildNumber'
    if ($null -eq $minor) {
        $minor = 0
    }
    if ($null -eq $build -or [string]$build -notmatch '^\d+$') {
        $build = 0
    }
    return (New-Object -TypeName System.Version -ArgumentList ([int]$major), ([int]$minor), ([int]$build))
}

function Assert-Platform {
    <# Windows 10+/Server 2016+ on x86_64 or arm64; returns the native architecture. #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    if (-not (Test-IsWindowsPlatform)) {
        throw (New-BootstrapError -ExitCode 8 -Message ('bootstrap.ps1 is for Windows. On Linux or macOS install pybootstrap from its source ' +
            'folder with "python3 -m pip install <folder>" and run "python3 -m pybootstrap install".'))
    }
    $version = Get-WindowsVersion
    if ($version.Major -lt 10) {
        throw (New-BootstrapError -ExitCode 8 -Message ('Windows 10, Windows Server 2016 or newer is needed (this is Windows ' + $version + ').'))
    }
    $architecture = Get-NativeArchitecture
    if ($architecture -eq 'x86') {
        throw (New-BootstrapError -ExitCode 8 -Message '32-bit Windows is not supported: PyTorch has no 32-bit builds.')
    }
    if ($architecture -ne 'x86_64' -and $architecture -ne 'arm64') {
        throw (New-BootstrapError -ExitCode 8 -Message ('Unsupported processor architecture "' + $architecture + '".'))
    }
    if ($architecture -eq 'arm64') {
        Write-Log -Level Warn -Message ('This is an ARM64 machine: PyTorch has no CUDA builds for Windows on ARM64, and a new ' +
            'Miniconda/Miniforge install uses the x86_64 build under emulation (Windows 11 only).')
    }
    if (-not (Test-Is64BitProcess)) {
        Write-Log -Level Detail -Message 'This is a 32-bit PowerShell process; the 64-bit registry view is used for discovery.'
    }
    return $architecture
}

function Test-LongPathSupport {
    <# Checks LongPathsEnabled; turns it on with -Enable when elevated; warns with the fix otherwise. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [bool] $Enable = $false,
        [bool] $DryRun = $false
    )
    $key = 'HKLM:\SYSTEM\CurrentControlSet\Control\FileSystem'
    $value = Get-RegistryValue -Path $key -Name 'LongPathsEnabled'
    if ($null -ne $value -and [int]$value -eq 1) {
        Write-Log -Level Detail -Message 'LongPathsEnabled = 1'
        return $true
    }
    if ($Enable) {
        if (-not (Test-IsAdmin)) {
            Write-Log -Level Warn -Message '-EnableLongPaths needs an elevated (administrator) PowerShell; long paths stay disabled.'
        }
        elseif ($DryRun) {
            Write-Log -Message ('[dry-run] would set ' + $key + '\LongPathsEnabled = 1')
            return $false
        }
        else {
            Set-RegistryValue -Path $key -Name 'LongPathsEnabled' -Value 1
            Write-Log -Message 'Enabled long paths (LongPathsEnabled = 1).'
            return $true
        }
    }
    Write-Log -Level Warn -Message ('Long paths are disabled on this machine; some PyTorch packages have very deep file paths and ' +
        'can fail with "WinError 206". Fix, as administrator: New-ItemProperty -Path ' + $key +
        ' -Name LongPathsEnabled -Value 1 -PropertyType DWord -Force (or run this script elevated with -EnableLongPaths).')
    return $false
}

function Test-FreeSpace {
    <# Warns when the drive of Path has less than MinimumBytes free (CUDA builds take GBs). #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [string] $Path,
        [long] $MinimumBytes = 10737418240
    )
    $free = Get-FreeSpaceBytes -Path $Path
    if ($null -eq $free) {
        Write-Log -Level Detail -Message ('Free space on the drive of ' + $Path + ' is unknown.')
        return $true
    }
    if ($free -lt $MinimumBytes) {
        Write-Log -Level Warn -Message (('Only {0:N1} GB free on the drive of {1}; a CUDA build of PyTorch needs about {2:N0} GB ' +
            '(download, cache and install). Fix: free up space, or use a bigger drive, e.g. -HomePath D:\pybootstrap -Prefix D:\pybootstrap\conda.') -f
            ($free / 1073741824), $Path, ($MinimumBytes / 1073741824))
        return $false
    }
    Write-Log -Level Detail -Message (('{0:N1} GB free on the drive of {1}.') -f ($free / 1073741824), $Path)
    return $true
}

function Get-InstallPathProblem {
    <# Why a conda prefix cannot be used (the NSIS installer's rules, plus "short"), or $null. #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $Path,
        [int] $MaximumLength = 60
    )
    if ([string]::IsNullOrEmpty($Path)) {
        return 'it is empty'
    }
    if ($Path -notmatch '^[A-Za-z]:\\') {
        return 'it must be an absolute path on a local drive, like C:\pybootstrap\conda'
    }
    if ($Path -match '[^\x21-\x7E]') {
        if ($Path -match ' ') {
            return 'it contains a space (the Miniconda/Miniforge installer rejects spaces)'
        }
        return 'it contains non-ASCII or blank characters'
    }
    if ($Path -match '[\^%!=,()]') {
        return 'it contains one of the characters ^ % ! = , ( ) that the installer rejects'
    }
    if ($Path.Substring(2) -match '[<>:"|?*]') {
        return 'it contains a character that is not allowed in a Windows path'
    }
    if ($Path.Length -gt $MaximumLength) {
        return ('it is longer than ' + $MaximumLength + ' characters (deep package paths would pass the 260-character limit)')
    }
    return $null
}

# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------

function Resolve-HomePath {
    <# The pybootstrap home: -HomePath / PYBOOTSTRAP_HOME, else %LOCALAPPDATA%\pybootstrap (SYSTEM: %ProgramData%). #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $HomePath,
        [bool] $IsSystem = $false
    )
    if (-not [string]::IsNullOrEmpty($HomePath)) {
        return $HomePath.TrimEnd('\', '/')
    }
    if ($IsSystem) {
        $base = $env:ProgramData
        if ([string]::IsNullOrEmpty($base)) {
            $base = Join-WinPath $env:SystemDrive 'ProgramData'
        }
    }
    else {
        $base = $env:LOCALAPPDATA
        if ([string]::IsNullOrEmpty($base)) {
            $base = [System.Environment]::GetFolderPath('LocalApplicationData')
        }
    }
    return (Join-WinPath $base 'pybootstrap')
}

function Resolve-CondaPrefix {
    <# The conda prefix: -Prefix (validated), else <home>\conda, else %SystemDrive%\pybootstrap\conda. #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $Prefix,
        [string] $HomePath
    )
    if (-not [string]::IsNullOrEmpty($Prefix)) {
        $problem = Get-InstallPathProblem -Path $Prefix
        if ($problem) {
            throw (New-BootstrapError -ExitCode 8 -Message ('-Prefix "' + $Prefix + '" cannot be used: ' + $problem + '.'))
        }
        return $Prefix.TrimEnd('\')
    }
    $systemDrive = $env:SystemDrive
    if ([string]::IsNullOrEmpty($systemDrive)) {
        $systemDrive = 'C:'
    }
    $candidates = @((Join-WinPath $HomePath 'conda'), (Join-WinPath $systemDrive 'pybootstrap\conda'))
    foreach ($candidate in $candidates) {
        $problem = Get-InstallPathProblem -Path $candidate
        if (-not $problem) {
            return $candidate
        }
        Write-Log -Level Detail -Message ('Not using ' + $candidate + ' as the conda prefix: ' + $problem + '.')
    }
    throw (New-BootstrapError -ExitCode 8 -Message ('No usable conda prefix: pass -Prefix with a short path without spaces, like C:\pybootstrap\conda.'))
}

function Get-DefaultLogPath {
    <# <home>\logs\bootstrap-<timestamp>.log; under %TEMP% for a dry run (which changes nothing). #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $HomePath,
        [bool] $DryRun = $false
    )
    $name = 'bootstrap-' + (Get-Date).ToString('yyyyMMdd-HHmmss') + '.log'
    if ($DryRun) {
        return (Join-WinPath ([System.IO.Path]::GetTempPath()) ('pybootstrap-dry-run-' + $name))
    }
    return (Join-WinPath (Join-WinPath $HomePath 'logs') $name)
}

function Resolve-BootstrapConfig {
    <# Validates the settings (exit code 2 on bad values) and fills in every default. #>
    [CmdletBinding()]
    param(
        [hashtable] $Settings = @{},
        [string[]] $BoundNames = @()
    )
    $constants = Get-BootstrapConstants
    $map = Get-ParameterEnvironmentMap
    $sources = [ordered]@{}
    foreach ($name in $map.Keys) {
        if (@($BoundNames) -contains $name) {
            $sources[$name] = 'parameter'
        }
        elseif (-not [string]::IsNullOrEmpty([System.Environment]::GetEnvironmentVariable($map[$name]))) {
            $sources[$name] = 'environment (' + $map[$name] + ')'
        }
        else {
            $sources[$name] = 'default'
        }
    }

    $distribution = [string]$Settings['Distribution']
    if ([string]::IsNullOrEmpty($distribution)) {
        $distribution = 'Miniconda'
    }
    if ($distribution -eq 'Miniconda') {
        $distribution = 'Miniconda'
    }
    elseif ($distribution -eq 'Miniforge') {
        $distribution = 'Miniforge'
    }
    else {
        throw (New-BootstrapError -ExitCode 2 -Message ('-Distribution must be Miniconda or Miniforge, not "' + $distribution + '".'))
    }

    $pythonVersion = [string]$Settings['PythonVersion']
    if ([string]::IsNullOrEmpty($pythonVersion)) {
        $pythonVersion = $constants.DefaultPythonVersion
    }
    if ($pythonVersion -ne 'base') {
        $minor = -1
        if ($pythonVersion -match '^3\.(\d{1,2})$') {
            $minor = [int]$Matches[1]
        }
        if ($minor -lt 9) {
            throw (New-BootstrapError -ExitCode 2 -Message ('-PythonVersion must be 3.9 or newer as X.Y (e.g. 3.12), or "base"; got "' + $pythonVersion + '".'))
        }
    }

    foreach ($hashName in @('InstallerSha256', 'SourceSha256')) {
        $hashValue = [string]$Settings[$hashName]
        if (-not [string]::IsNullOrEmpty($hashValue) -and -not (Test-Sha256Format -Value $hashValue)) {
            throw (New-BootstrapError -ExitCode 2 -Message ('-' + $hashName + ' must be 64 hexadecimal digits; got "' + $hashValue + '".'))
        }
    }

    $signer = [string]$Settings['InstallerSigner']
    if (-not [string]::IsNullOrEmpty($signer)) {
        try {
            $null = New-Object -TypeName System.Text.RegularExpressions.Regex -ArgumentList $signer
        }
        catch {
            throw (New-BootstrapError -ExitCode 2 -Message ('-InstallerSigner is not a valid regular expression: ' + $signer))
        }
    }

    $noProxy = ConvertTo-BoolSetting -Value $Settings['NoProxy']
    $proxy = [string]$Settings['Proxy']
    if (-not [string]::IsNullOrEmpty($proxy)) {
        if ($noProxy) {
            throw (New-BootstrapError -ExitCode 2 -Message '-Proxy and -NoProxy cannot be used together.')
        }
        $parsed = $null
        if (-not [System.Uri]::TryCreate($proxy, [System.UriKind]::Absolute, [ref]$parsed) -or ($parsed.Scheme -ne 'http' -and $parsed.Scheme -ne 'https')) {
            throw (New-BootstrapError -ExitCode 2 -Message ('-Proxy must be a URL like http://proxy.example:8080; got "' + (ConvertTo-RedactedText -Text $proxy) + '".'))
        }
    }

    $retries = $constants.DefaultDownloadRetries
    $retriesText = [string]$Settings['DownloadRetries']
    if (-not [string]::IsNullOrEmpty($retriesText)) {
        if ($retriesText -notmatch '^\d{1,2}$' -or [int]$retriesText -gt 20) {
            throw (New-BootstrapError -ExitCode 2 -Message ('-DownloadRetries must be a number from 0 to 20; got "' + $retriesText + '".'))
        }
        $retries = [int]$retriesText
    }

    $acceptTos = ConvertTo-BoolSetting -Value $Settings['AcceptAnacondaTos']
    $channel = [string]$Settings['CondaChannel']
    if ([string]::IsNullOrEmpty($channel)) {
        $channel = $constants.DefaultCondaChannel
    }
    if (($channel -eq 'defaults' -or $channel -match '(?i)repo\.anaconda\.com') -and -not $acceptTos) {
        throw (New-BootstrapError -ExitCode 2 -Message ('-CondaChannel ' + $channel + ' is one of Anaconda''s default channels, which need ' +
            'their Terms of Service accepted: add -AcceptAnacondaTos if your organisation has agreed to them.'))
    }

    $installerUrl = [string]$Settings['InstallerUrl']
    $installerBaseUrl = [string]$Settings['InstallerBaseUrl']
    if (-not [string]::IsNullOrEmpty($installerUrl) -and -not [string]::IsNullOrEmpty($installerBaseUrl)) {
        throw (New-BootstrapError -ExitCode 2 -Message 'Use -InstallerUrl or -InstallerBaseUrl, not both.')
    }

    $passThrough = @()
    foreach ($item in @($Settings['PybootstrapArgs'])) {
        if ($item -is [array]) {
            # "--packages torch,torchvision" reaches a script as an array; pybootstrap wants the comma list back
            $item = ($item | ForEach-Object { [string]$_ }) -join ','
        }
        # "--" only separates our parameters from pybootstrap's; under -File PowerShell passes it on literally
        if ($null -ne $item -and [string]$item -ne '' -and [string]$item -ne '--') {
            $passThrough += [string]$item
        }
    }
    if ($passThrough.Count -eq 0 -and -not [string]::IsNullOrEmpty($env:PYBOOTSTRAP_ARGS)) {
        $passThrough = @($env:PYBOOTSTRAP_ARGS.Trim() -split '\s+')
    }

    $dryRun = ConvertTo-BoolSetting -Value $Settings['DryRun']
    $isSystem = Test-IsSystem
    $homePath = Resolve-HomePath -HomePath ([string]$Settings['HomePath']) -IsSystem $isSystem
    $prefix = Resolve-CondaPrefix -Prefix ([string]$Settings['Prefix']) -HomePath $homePath
    $logPath = [string]$Settings['LogPath']
    if ([string]::IsNullOrEmpty($logPath)) {
        $logPath = Get-DefaultLogPath -HomePath $homePath -DryRun $dryRun
    }
    $toolVenv = Join-WinPath $homePath 'tool\venv'

    return [pscustomobject]@{
        Prefix = $prefix
        HomePath = $homePath
        Distribution = $distribution
        InstallerUrl = $installerUrl
        InstallerBaseUrl = $installerBaseUrl
        InstallerSha256 = ([string]$Settings['InstallerSha256']).ToLowerInvariant()
        InstallerSigner = $signer
        AcceptAnacondaTos = $acceptTos
        CondaChannel = $channel
        PythonVersion = $pythonVersion
        PythonExe = [string]$Settings['PythonExe']
        NoExistingPython = ConvertTo-BoolSetting -Value $Settings['NoExistingPython']
        Source = [string]$Settings['Source']
        SourceSha256 = ([string]$Settings['SourceSha256']).ToLowerInvariant()
        Offline = ConvertTo-BoolSetting -Value $Settings['Offline']
        Proxy = $proxy
        ProxyUseDefaultCredentials = ConvertTo-BoolSetting -Value $Settings['ProxyUseDefaultCredentials']
        NoProxy = $noProxy
        DownloadRetries = $retries
        DryRun = $dryRun
        Yes = ConvertTo-BoolSetting -Value $Settings['Yes']
        LogPath = $logPath
        Force = ConvertTo-BoolSetting -Value $Settings['Force']
        EnableLongPaths = ConvertTo-BoolSetting -Value $Settings['EnableLongPaths']
        PybootstrapArgs = $passThrough
        Verbose = (@($BoundNames) -contains 'Verbose')
        IsSystem = $isSystem
        ToolVenv = $toolVenv
        ToolPython = Join-WinPath $toolVenv 'Scripts\python.exe'
        StateFile = Join-WinPath $homePath 'bootstrap-state.json'
        TempDirectory = $null
        Sources = $sources
    }
}

function Write-ConfigSummary {
    <# Logs the run context and every setting with where it came from. #>
    [CmdletBinding()]
    param([object] $Config)
    $constants = Get-BootstrapConstants
    $who = 'user'
    if ($Config.IsSystem) {
        $who = 'SYSTEM'
    }
    elseif (Test-IsAdmin) {
        $who = 'administrator'
    }
    Write-Log -Message ('bootstrap.ps1 ' + $constants.BootstrapVersion + ' on PowerShell ' + (Get-PSVersion) + ' (' + $PSVersionTable.PSEdition + '), running as ' + $who +
        ', interactive: ' + (Test-IsInteractive) + '.')
    if ($script:PybootstrapLogFile) {
        Write-Log -Message ('Log file: ' + $script:PybootstrapLogFile)
    }
    foreach ($name in $Config.Sources.Keys) {
        $value = $Config.$name
        if ($name -eq 'PybootstrapArgs') {
            $value = (@($Config.PybootstrapArgs) -join ' ')
        }
        Write-Log -Level Detail -Message ('  ' + $name + ' = ' + $value + '  [' + $Config.Sources[$name] + ']')
    }
    if ($Config.Yes) {
        Write-Log -Level Detail -Message '-Yes given; this script never prompts anyway.'
    }
}

# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

function Set-SecurityProtocol {
    <# Adds TLS 1.2 unless .NET already uses the OS default (SystemDefault = 0 on .NET 4.7+). #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType([int])]
    param()
    try {
        $current = [int][System.Net.ServicePointManager]::SecurityProtocol
        if ($current -ne 0 -and ($current -band 3072) -ne 3072) {
            if ($PSCmdlet.ShouldProcess('ServicePointManager.SecurityProtocol', 'Add TLS 1.2')) {
                [System.Net.ServicePointManager]::SecurityProtocol = [System.Net.SecurityProtocolType]($current -bor 3072)
            }
        }
        return [int][System.Net.ServicePointManager]::SecurityProtocol
    }
    catch {
        throw (New-BootstrapError -ExitCode 6 -Message ('TLS 1.2 is not available in this .NET Framework. Install .NET Framework 4.8 and run again. (' + $_.Exception.Message + ')'))
    }
}

function Resolve-ProxySettings {
    <# Proxy choice: -NoProxy, then -Proxy, then HTTPS_PROXY / ALL_PROXY, then the system proxy. #>
    [CmdletBinding()]
    param(
        [string] $Proxy,
        [bool] $UseDefaultCredentials = $false,
        [bool] $NoProxy = $false,
        [hashtable] $Environment = $null
    )
    if ($null -eq $Environment) {
        $Environment = @{ HTTPS_PROXY = $env:HTTPS_PROXY; ALL_PROXY = $env:ALL_PROXY }
    }
    if ($NoProxy) {
        return [pscustomobject]@{ Mode = 'None'; Uri = $null; ExportUri = $null; UserName = $null; Password = $null; UseDefaultCredentials = $false }
    }
    $mode = 'System'
    $raw = $null
    if (-not [string]::IsNullOrEmpty($Proxy)) {
        $mode = 'Explicit'
        $raw = $Proxy
    }
    elseif (-not [string]::IsNullOrEmpty($Environment['HTTPS_PROXY'])) {
        $mode = 'Environment'
        $raw = [string]$Environment['HTTPS_PROXY']
    }
    elseif (-not [string]::IsNullOrEmpty($Environment['ALL_PROXY'])) {
        $mode = 'Environment'
        $raw = [string]$Environment['ALL_PROXY']
    }
    if ($mode -eq 'System') {
        return [pscustomobject]@{ Mode = 'System'; Uri = $null; ExportUri = $null; UserName = $null; Password = $null; UseDefaultCredentials = $true }
    }
    if ($raw -notmatch '^[a-zA-Z][a-zA-Z0-9+.-]*://') {
        $raw = 'http://' + $raw
    }
    $parsed = New-Object -TypeName System.Uri -ArgumentList $raw
    $userName = $null
    $password = $null
    if ($parsed.UserInfo) {
        $parts = @($parsed.UserInfo -split ':', 2)
        $userName = [System.Uri]::UnescapeDataString($parts[0])
        if ($parts.Count -gt 1) {
            $password = [System.Uri]::UnescapeDataString($parts[1])
            Add-LogSecret -Secret $password
            Add-LogSecret -Secret $parts[1]
        }
    }
    $uri = $parsed.Scheme + '://' + $parsed.Host + ':' + $parsed.Port
    return [pscustomobject]@{
        Mode = $mode
        Uri = $uri
        ExportUri = $raw
        UserName = $userName
        Password = $password
        UseDefaultCredentials = ($UseDefaultCredentials -and -not $userName)
    }
}

function Get-ChildEnvironment {
    <# Environment variables for pip, conda and pybootstrap ($null removes one). #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [object] $Config,
        [object] $ProxySettings
    )
    $values = @{
        PYBOOTSTRAP_HOME = $Config.HomePath
        PIP_DISABLE_PIP_VERSION_CHECK = '1'
        PIP_NO_INPUT = '1'
        PYTHONUTF8 = '1'
        # Discovery must never make the Python install manager install a runtime on its own.
        PYTHON_MANAGER_AUTOMATIC_INSTALL = 'false'
        PYLAUNCHER_ALLOW_INSTALL = $null
    }
    $mode = 'System'
    if ($null -ne $ProxySettings) {
        $mode = $ProxySettings.Mode
    }
    if ($mode -eq 'None') {
        $values['HTTP_PROXY'] = $null
        $values['HTTPS_PROXY'] = $null
        $values['ALL_PROXY'] = $null
        $values['NO_PROXY'] = '*'
    }
    elseif ($mode -eq 'Explicit' -or $mode -eq 'Environment') {
        $values['HTTP_PROXY'] = $ProxySettings.ExportUri
        $values['HTTPS_PROXY'] = $ProxySettings.ExportUri
    }
    elseif ([string]::IsNullOrEmpty($env:HTTPS_PROXY)) {
        # pip and conda do not read the Windows system proxy: hand it to them explicitly.
        $systemProxy = Get-SystemProxyUri -Url 'https://pypi.org/'
        if ($systemProxy) {
            $values['HTTP_PROXY'] = $systemProxy
            $values['HTTPS_PROXY'] = $systemProxy
            Write-Log -Level Detail -Message ('System proxy for pip and conda: ' + $systemProxy + ' (pip cannot answer NTLM/Kerberos challenges; use -Proxy http://user:password@host:port if it asks).')
        }
    }
    return $values
}

function Save-RemoteFile {
    <# Gets a URL or a local/UNC path into OutFile, retrying with backoff (never on 401/403/404/410). #>
    [CmdletBinding()]
    param(
        [string] $Url,
        [string] $OutFile,
        [object] $ProxySettings,
        [int] $Retries = 4,
        [int] $DelaySeconds = 2,
        [bool] $Offline = $false
    )
    $location = $Url
    if ($location -match '^(?i)file://') {
        $location = ([System.Uri]$location).LocalPath
    }
    if (-not (Test-IsUrl -Value $location)) {
        if (-not (Test-PathExists -Path $location -PathType Leaf)) {
            throw (New-BootstrapError -ExitCode 6 -Message ('File not found: ' + $location + ' (check the path, the share permissions and that this account can read it).'))
        }
        Write-Log -Message ('Copying ' + $location)
        Copy-Item -LiteralPath $location -Destination $OutFile -Force
        return
    }
    if ($Offline) {
        throw (New-BootstrapError -ExitCode 6 -Message ('Offline: cannot download ' + $location + '. Give a local or UNC path instead.'))
    }
    $attempt = 0
    while ($true) {
        $attempt++
        try {
            Write-Log -Message ('Downloading ' + $location)
            Invoke-Download -Url $location -OutFile $OutFile -ProxySettings $ProxySettings
            if (-not (Test-PathExists -Path $OutFile -PathType Leaf)) {
                throw ('nothing was saved to ' + $OutFile)
            }
            return
        }
        catch {
            $status = Get-HttpStatusCode -Exception $_.Exception
            $reason = $_.Exception.Message
            if ($null -ne $status -and @(401, 403, 404, 410) -contains $status) {
                throw (New-BootstrapError -ExitCode 6 -Message ('Download failed with HTTP ' + $status + ': ' + $location))
            }
            if ($status -eq 407) {
                $reason = $reason + ' (the proxy wants credentials: try -ProxyUseDefaultCredentials or -Proxy http://user:password@host:port)'
            }
            if ($attempt -gt $Retries) {
                throw (New-BootstrapError -ExitCode 6 -Message ('Download failed after ' + $attempt + ' attempts: ' + $location + ': ' + $reason +
                    '. Check the network, the proxy (-Proxy / -NoProxy) and TLS inspection, or use an internal mirror (-InstallerBaseUrl, -Source).'))
            }
            $wait = $DelaySeconds * [int][System.Math]::Pow(2, $attempt - 1)
            Write-Log -Level Warn -Message ('Download attempt ' + $attempt + ' failed (' + $reason + '); retrying in ' + $wait + ' s.')
            Start-Sleep -Seconds $wait
        }
    }
}

function Get-SidecarUrl {
    <# The URL of the ".sha256" file published beside a download: before any query string (signed URLs). #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $Url
    )
    $cut = $Url.IndexOfAny([char[]]@('?', '#'))
    if ($cut -lt 0) {
        return $Url + '.sha256'
    }
    return $Url.Substring(0, $cut) + '.sha256' + $Url.Substring($cut)
}

function ConvertTo-WheelVersion {
    <# The version in a wheel file name ("pybootstrap-0.10.0-py3-none-any.whl" -> 0.10.0), for sorting. #>
    [CmdletBinding()]
    [OutputType([version])]
    param(
        [string] $Name
    )
    if ($Name -match '^[^-]+-(\d+(\.\d+){0,3})') {
        return [version]($Matches[1] + $(if ($Matches[1] -notmatch '\.') { '.0' } else { '' }))
    }
    return [version]'0.0'
}

function Get-Sha256FromSidecar {
    <# The SHA256 from "<url>.sha256", trusted only over HTTPS (or from a local/UNC file). #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $Url,
        [string] $Directory,
        [object] $ProxySettings,
        [int] $Retries = 4,
        [bool] $Offline = $false
    )
    if ((Test-IsUrl -Value $Url) -and $Url -notmatch '^(?i)https://') {
        throw (New-BootstrapError -ExitCode 9 -Message ('No pinned SHA256 for this download, and ' + $Url + ' is not HTTPS. Pass the SHA256 explicitly (-InstallerSha256 / -SourceSha256).'))
    }
    $file = Join-WinPath $Directory ('sidecar-' + [guid]::NewGuid().ToString('N') + '.sha256')
    try {
        Save-RemoteFile -Url $Url -OutFile $file -ProxySettings $ProxySettings -Retries $Retries -Offline $Offline
    }
    catch {
        throw (New-BootstrapError -ExitCode 9 -Message ('No pinned SHA256 for this download and no checksum file at ' + $Url + ' (' + $_.Exception.Message +
            '). Pass the SHA256 explicitly (-InstallerSha256 / -SourceSha256).'))
    }
    $hash = ConvertFrom-Sha256File -Text (Get-Content -LiteralPath $file -Raw)
    Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue
    if (-not $hash) {
        throw (New-BootstrapError -ExitCode 9 -Message ('The checksum file ' + $Url + ' holds no SHA256.'))
    }
    return $hash
}

function Assert-FileHash {
    <# Stops (exit 9) and deletes the file when its SHA256 is not the expected one. #>
    [CmdletBinding()]
    param(
        [string] $Path,
        [string] $ExpectedHash,
        [string] $What = 'the download',
        # The file is the user's own (a local or UNC archive): report the mismatch, never delete it.
        [switch] $KeepFile
    )
    if (-not (Test-Sha256Format -Value $ExpectedHash)) {
        throw (New-BootstrapError -ExitCode 9 -Message ('No valid SHA256 to check ' + $What + ' against.'))
    }
    $actual = Get-FileSha256 -Path $Path
    if ($actual -ne $ExpectedHash.ToLowerInvariant()) {
        $fate = 'The file was kept (it is yours); check it or the expected SHA256.'
        if (-not $KeepFile) {
            Remove-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
            $fate = 'The file was deleted. A proxy, a mirror or an incomplete download may have changed it.'
        }
        throw (New-BootstrapError -ExitCode 9 -Message ('SHA256 mismatch for ' + $What + ': expected ' + $ExpectedHash.ToLowerInvariant() + ', got ' + $actual +
            '. ' + $fate + ' Nothing was installed.'))
    }
    Write-Log -Message ('SHA256 verified for ' + $What + ' (' + $actual + ').')
}

function Assert-FileSignature {
    <# Stops (exit 9) and deletes the file unless its Authenticode signature is Valid (and by the expected signer). #>
    [CmdletBinding()]
    param(
        [string] $Path,
        [string] $SignerPattern = '',
        [string] $What = 'the download'
    )
    $signature = Get-SignatureStatus -Path $Path
    if ($signature.Status -ne 'Valid') {
        Remove-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
        throw (New-BootstrapError -ExitCode 9 -Message ('The Authenticode signature of ' + $What + ' is not valid (status: ' + $signature.Status + '; ' + $signature.Message +
            '). The file was deleted and nothing was installed.'))
    }
    if (-not [string]::IsNullOrEmpty($SignerPattern) -and $signature.Subject -notmatch $SignerPattern) {
        Remove-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
        throw (New-BootstrapError -ExitCode 9 -Message ($What + ' is signed by "' + $signature.Subject + '", which does not match "' + $SignerPattern +
            '". The file was deleted and nothing was installed.'))
    }
    Write-Log -Message ('Authenticode signature valid for ' + $What + ' (' + $signature.Subject + ').')
}

# ---------------------------------------------------------------------------------------------
# Finding Python
# ---------------------------------------------------------------------------------------------

function Invoke-PythonProbe {
    <# Runs a candidate interpreter in isolated mode and asks it about itself (JSON). #>
    [CmdletBinding()]
    param(
        [string] $Path,
        [int] $TimeoutSeconds = 30
    )
    # No double quotes inside: the code travels as one quoted command-line argument.
    $code = "import sys,json,sysconfig,importlib.util as u;print(json.dumps({'executable':sys.executable,'version':list(sys.version_info[:3])," +
        "'bits':64 if sys.maxsize>2**32 else 32,'prefix':sys.prefix,'platform':sysconfig.get_platform()," +
        "'venv':all(u.find_spec(m) is not None for m in ('venv','ensurepip'))}))"
    return (Invoke-ProcessCapture -FilePath $Path -ArgumentList @('-I', '-c', $code) -TimeoutSeconds $TimeoutSeconds -Environment @{
            PYTHON_MANAGER_AUTOMATIC_INSTALL = 'false'
            PYLAUNCHER_ALLOW_INSTALL = $null
        })
}

function Test-PythonProbeResult {
    <# Usable (version 3.9+, 64-bit, not the Store, has venv) or why not. #>
    [CmdletBinding()]
    param(
        [object] $Result,
        [string] $Path,
        [version] $MinimumVersion = '3.9'
    )
    $verdict = [pscustomobject]@{
        Usable = $false
        Reason = ''
        Path = $Path
        Executable = $Path
        Version = $null
        Bits = $null
        Prefix = $null
        Platform = $null
        Source = $null
    }
    if ($null -eq $Result) {
        $verdict.Reason = 'could not be run'
        return $verdict
    }
    if ($Result.TimedOut) {
        $verdict.Reason = 'did not answer within the time limit'
        return $verdict
    }
    if ($Result.ExitCode -eq 9009) {
        $verdict.Reason = 'is the Microsoft Store placeholder (exit code 9009), not a Python'
        return $verdict
    }
    if ($Result.ExitCode -ne 0) {
        $verdict.Reason = 'exited with code ' + $Result.ExitCode
        return $verdict
    }
    $json = $null
    foreach ($line in @(([string]$Result.StdOut) -split "`r?`n")) {
        if ($line.Trim().StartsWith('{')) {
            $json = $line.Trim()
        }
    }
    $data = $null
    if ($json) {
        try { $data = ConvertFrom-Json -InputObject $json } catch { $data = $null }
    }
    if ($null -eq $data -or $null -eq $data.version) {
        $verdict.Reason = 'did not describe itself (no JSON answer)'
        return $verdict
    }
    $parts = @($data.version)
    $version = New-Object -TypeName System.Version -ArgumentList ([int]$parts[0]), ([int]$parts[1]), ([int]$parts[2])
    $verdict.Version = $version.ToString()
    $verdict.Executable = [string]$data.executable
    $verdict.Bits = [int]$data.bits
    $verdict.Prefix = [string]$data.prefix
    $verdict.Platform = [string]$data.platform
    if ($version -lt $MinimumVersion) {
        $verdict.Reason = 'is Python ' + $version + '; ' + $MinimumVersion + ' or newer is needed'
        return $verdict
    }
    if ((Test-IsWindowsAppsPath -Path $verdict.Executable) -or $verdict.Executable -match '(?i)PythonSoftwareFoundation\.Python') {
        $verdict.Reason = 'is a Microsoft Store Python (its long package paths break PyTorch installs)'
        return $verdict
    }
    if ($verdict.Bits -ne 64) {
        $verdict.Reason = 'is a 32-bit Python; PyTorch needs a 64-bit one'
        return $verdict
    }
    if (-not $data.venv) {
        $verdict.Reason = 'has no venv/ensurepip module'
        return $verdict
    }
    $verdict.Usable = $true
    return $verdict
}

function ConvertFrom-PyLauncherList {
    <# Interpreter paths from "py -0p" output (any launcher version; parsed defensively). #>
    [CmdletBinding()]
    param([AllowEmptyString()] [AllowNull()] [string] $Text)
    foreach ($line in @(([string]$Text) -split "`r?`n")) {
        # Old launchers may mark the default with a trailing "*".
        if ($line -match '([A-Za-z]:\\.*?\\python(3(\.\d+)?)?\.exe)(\s+\*)?\s*$') {
            $Matches[1]
        }
    }
}

function Get-RegistryPythonPaths {
    <# Interpreter paths from PEP 514 entries: HKCU first, then HKLM; newest first within each. #>
    [CmdletBinding()]
    param([object[]] $Entries = @())
    $order = @{ HKCU = 0; HKLM64 = 1; HKLM32 = 2 }
    $rows = foreach ($entry in @($Entries)) {
        if ($null -eq $entry) {
            continue
        }
        $exe = [string]$entry.ExecutablePath
        if ([string]::IsNullOrEmpty($exe) -and -not [string]::IsNullOrEmpty([string]$entry.InstallPath)) {
            $exe = Join-WinPath ([string]$entry.InstallPath) 'python.exe'
        }
        if ([string]::IsNullOrEmpty($exe)) {
            continue
        }
        $rank = 3
        if ($order.ContainsKey([string]$entry.Root)) {
            $rank = $order[[string]$entry.Root]
        }
        $versionText = [string]$entry.Version
        if ([string]::IsNullOrEmpty($versionText)) {
            $versionText = [string]$entry.Tag
        }
        [pscustomobject]@{ Path = $exe; Rank = $rank; Version = (ConvertTo-VersionOrZero -Text $versionText) }
    }
    @($rows) | Where-Object { $null -ne $_ } |
        Sort-Object -Property @{ Expression = 'Rank'; Descending = $false }, @{ Expression = 'Version'; Descending = $true } |
        ForEach-Object { $_.Path }
}

function Get-PyLauncherPythonPaths {
    <# Interpreter paths listed by the py launcher ("py -0p"; it never installs a runtime). #>
    [CmdletBinding()]
    param()
    $launcher = @(Get-CommandPath -Name 'py') | Select-Object -First 1
    if (-not $launcher) {
        return
    }
    $result = Invoke-ProcessCapture -FilePath $launcher -ArgumentList @('-0p') -TimeoutSeconds 20 -Environment @{
        PYTHON_MANAGER_AUTOMATIC_INSTALL = 'false'
        PYLAUNCHER_ALLOW_INSTALL = $null
    }
    if ($result.ExitCode -ne 0) {
        Write-Log -Level Detail -Message ('"py -0p" exited with code ' + $result.ExitCode)
        return
    }
    ConvertFrom-PyLauncherList -Text $result.StdOut
}

function Get-PathPythonPaths {
    <# python.exe / python3.exe on PATH, without the WindowsApps aliases and Store stub. #>
    [CmdletBinding()]
    param()
    foreach ($name in @('python', 'python3')) {
        foreach ($path in @(Get-CommandPath -Name $name)) {
            if (-not (Test-IsWindowsAppsPath -Path $path)) {
                $path
            }
        }
    }
}

function Get-OwnPythonPath {
    <# The interpreter this script installs: <prefix>\envs\pyXY\python.exe, or <prefix>\python.exe for "base". #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $Prefix,
        [string] $PythonVersion
    )
    if ($PythonVersion -eq 'base') {
        return (Join-WinPath $Prefix 'python.exe')
    }
    return (Join-WinPath $Prefix ('envs\py' + $PythonVersion.Replace('.', '') + '\python.exe'))
}

function Get-PythonCandidates {
    <# Candidates in order: state file, own install, PEP 514, py launcher, PATH. Deduplicated. #>
    [CmdletBinding()]
    param(
        [object] $Config,
        [object] $State
    )
    $seen = @{}
    $ordered = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $groups = New-Object -TypeName 'System.Collections.Generic.List[object]'

    if (-not $Config.Force -and $null -ne $State -and $null -ne $State.python -and $State.python.executable) {
        $stateSource = [string]$State.python.source
        if (-not $Config.NoExistingPython -or $stateSource -eq 'own-install') {
            $groups.Add(@{ Source = 'state'; Paths = @([string]$State.python.executable) })
        }
    }
    $groups.Add(@{ Source = 'own-install'; Paths = @(Get-OwnPythonPath -Prefix $Config.Prefix -PythonVersion $Config.PythonVersion) })
    if (-not $Config.NoExistingPython) {
        $groups.Add(@{ Source = 'registry'; Paths = @(Get-RegistryPythonPaths -Entries @(Get-PythonRegistryEntries)) })
        $groups.Add(@{ Source = 'py-launcher'; Paths = @(Get-PyLauncherPythonPaths) })
        $groups.Add(@{ Source = 'path'; Paths = @(Get-PathPythonPaths) })
    }
    foreach ($group in $groups) {
        foreach ($path in @($group.Paths)) {
            if ([string]::IsNullOrEmpty($path)) {
                continue
            }
            if (Test-IsWindowsAppsPath -Path $path) {
                Write-Log -Level Detail -Message ('Skipping ' + $path + ' (a WindowsApps alias).')
                continue
            }
            $key = $path.ToLowerInvariant().TrimEnd('\')
            if ($seen.ContainsKey($key)) {
                continue
            }
            $seen[$key] = $true
            $ordered.Add([pscustomobject]@{ Path = $path; Source = $group.Source })
        }
    }
    return $ordered.ToArray()
}

function Find-Python {
    <# The first usable Python 3.9+ (probed), or $null. -PythonExe must be usable or it is an error. #>
    [CmdletBinding()]
    param(
        [object] $Config,
        [object] $State
    )
    if (-not [string]::IsNullOrEmpty($Config.PythonExe)) {
        $verdict = Test-PythonProbeResult -Result (Invoke-PythonProbe -Path $Config.PythonExe) -Path $Config.PythonExe
        if (-not $verdict.Usable) {
            throw (New-BootstrapError -ExitCode 8 -Message ('-PythonExe ' + $Config.PythonExe + ' cannot be used: it ' + $verdict.Reason + '.'))
        }
        $verdict.Source = 'parameter'
        Write-Log -Message ('Using Python ' + $verdict.Version + ' at ' + $verdict.Executable + ' (from -PythonExe).')
        return $verdict
    }
    foreach ($candidate in @(Get-PythonCandidates -Config $Config -State $State)) {
        if (-not (Test-PathExists -Path $candidate.Path -PathType Leaf)) {
            Write-Log -Level Detail -Message ('Skipping ' + $candidate.Path + ' (' + $candidate.Source + '): not found.')
            continue
        }
        $verdict = Test-PythonProbeResult -Result (Invoke-PythonProbe -Path $candidate.Path) -Path $candidate.Path
        if ($verdict.Usable) {
            $verdict.Source = $candidate.Source
            Write-Log -Message ('Using Python ' + $verdict.Version + ' at ' + $verdict.Executable + ' (found via ' + $candidate.Source + ').')
            return $verdict
        }
        Write-Log -Message ('Not using ' + $candidate.Path + ' (' + $candidate.Source + '): it ' + $verdict.Reason + '.')
    }
    Write-Log -Message 'No usable Python 3.9+ was found.'
    return $null
}

# ---------------------------------------------------------------------------------------------
# Installing Miniconda / Miniforge
# ---------------------------------------------------------------------------------------------

function Get-DistributionInfo {
    <# URL, file name, SHA256 and signer rule of the installer to use (pinned, mirrored or overridden). #>
    [CmdletBinding()]
    param(
        [object] $Config,
        [hashtable] $Constants
    )
    if ($null -eq $Constants) {
        $Constants = Get-BootstrapConstants
    }
    $pinned = $Constants[$Config.Distribution]
    $url = $pinned.Url
    $fileName = $pinned.FileName
    $sha256 = $pinned.Sha256
    if (-not [string]::IsNullOrEmpty($Config.InstallerUrl)) {
        $url = $Config.InstallerUrl
        $sha256 = $Config.InstallerSha256
        $leaf = ($url -split '[?#]')[0]
        $leaf = ($leaf -split '[\\/]')[-1]
        if ($leaf -match '(?i)\.exe$') {
            $fileName = $leaf
        }
    }
    elseif (-not [string]::IsNullOrEmpty($Config.InstallerBaseUrl)) {
        $base = $Config.InstallerBaseUrl
        if (Test-IsUrl -Value $base) {
            $url = $base.TrimEnd('/') + '/' + $fileName
        }
        else {
            $url = Join-WinPath $base $fileName
        }
        if (-not [string]::IsNullOrEmpty($Config.InstallerSha256)) {
            $sha256 = $Config.InstallerSha256
        }
    }
    elseif (-not [string]::IsNullOrEmpty($Config.InstallerSha256)) {
        $sha256 = $Config.InstallerSha256
    }
    $signer = $pinned.SignerPattern
    if (-not [string]::IsNullOrEmpty($Config.InstallerSigner)) {
        $signer = $Config.InstallerSigner
    }
    return [pscustomobject]@{
        Name = $pinned.Name
        Version = $pinned.Version
        FileName = $fileName
        Url = $url
        Sha256 = $sha256
        SignerPattern = $signer
    }
}

function Get-CondaInstallerArguments {
    <# The NSIS command line: explicit InstallationType, no PATH/registry/shortcuts, "/D=" last and unquoted. #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $Prefix,
        [bool] $AllUsers = $false
    )
    $type = 'JustMe'
    if ($AllUsers) {
        $type = 'AllUsers'
    }
    return ('/InstallationType=' + $type + ' /RegisterPython=0 /AddToPath=0 /NoRegistry=1 /NoShortcuts=1 /S /D=' + $Prefix)
}

function Test-CondaInstallation {
    <# True when the prefix holds a complete conda install (python.exe, conda, conda-meta\history). #>
    [CmdletBinding()]
    [OutputType([bool])]
    param([string] $Prefix)
    $hasConda = (Test-PathExists -Path (Join-WinPath $Prefix 'Scripts\conda.exe') -PathType Leaf) -or
        (Test-PathExists -Path (Join-WinPath $Prefix 'condabin\conda.bat') -PathType Leaf)
    return ((Test-PathExists -Path (Join-WinPath $Prefix 'python.exe') -PathType Leaf) -and $hasConda -and
        (Test-PathExists -Path (Join-WinPath $Prefix 'conda-meta\history') -PathType Leaf))
}

function Get-CondaExecutable {
    <# Scripts\conda.exe, else condabin\conda.bat. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([string] $Prefix)
    $exe = Join-WinPath $Prefix 'Scripts\conda.exe'
    if (Test-PathExists -Path $exe -PathType Leaf) {
        return $exe
    }
    return (Join-WinPath $Prefix 'condabin\conda.bat')
}

function Get-CondaPrefixStatus {
    <# Missing, Empty, Installed, Partial (a failed install) or Occupied (somebody else's files). #>
    [CmdletBinding()]
    [OutputType([string])]
    param([string] $Prefix)
    if (-not (Test-PathExists -Path $Prefix -PathType Container)) {
        return 'Missing'
    }
    $names = @(Get-DirectoryEntryNames -Path $Prefix)
    if ($names.Count -eq 0) {
        return 'Empty'
    }
    if (Test-CondaInstallation -Prefix $Prefix) {
        return 'Installed'
    }
    foreach ($name in $names) {
        if ($name -eq 'conda-meta' -or $name -eq '_conda.exe' -or $name -eq 'pkgs' -or $name -like 'Uninstall-Mini*.exe') {
            return 'Partial'
        }
    }
    return 'Occupied'
}

function Move-PartialInstall {
    <# Moves a failed install aside (never deletes it) so the installer gets an empty folder. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType([string])]
    param([string] $Prefix)
    $target = $Prefix + '.broken-' + (Get-Date).ToString('yyyyMMdd-HHmmss')
    if ($PSCmdlet.ShouldProcess($Prefix, 'Move to ' + $target)) {
        Move-Item -LiteralPath $Prefix -Destination $target -Force
        Write-Log -Level Warn -Message ('An incomplete earlier install was moved aside to ' + $target + '.')
    }
    return $target
}

function Get-CondaRcContent {
    <# Our prefix's .condarc: the chosen channel only; "defaults" points at it too. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([string] $Channel = 'conda-forge')
    $channelUrl = $Channel
    if (-not (Test-IsUrl -Value $Channel)) {
        $channelUrl = 'https://conda.anaconda.org/' + $Channel
    }
    $lines = @(
        ('# Written by pybootstrap bootstrap.ps1: this prefix uses ' + $Channel + ' only and never'),
        '# Anaconda''s default channels (their Terms of Service are not accepted here).',
        'channels:',
        ('  - ' + $Channel),
        'default_channels:',
        ('  - ' + $channelUrl),
        'channel_priority: strict',
        ''
    )
    return ($lines -join "`r`n")
}

function Get-CondaCreateArguments {
    <# "conda create" for the Python environment, always with --override-channels. #>
    [CmdletBinding()]
    param(
        [string] $EnvironmentPrefix,
        [string] $PythonVersion,
        [string] $Channel = 'conda-forge'
    )
    return @('create', '--yes', '--quiet', '--prefix', $EnvironmentPrefix, '--override-channels', '--channel', $Channel,
        ('python=' + $PythonVersion), 'pip')
}

function Invoke-CondaTosAcceptance {
    <# Accepts Anaconda's Terms of Service, only ever called for an explicit -AcceptAnacondaTos. #>
    [CmdletBinding()]
    param([string] $CondaExe)
    Write-Log -Message 'Accepting the Anaconda Terms of Service for the default channels, as requested with -AcceptAnacondaTos.'
    foreach ($channel in @('https://repo.anaconda.com/pkgs/main', 'https://repo.anaconda.com/pkgs/r', 'https://repo.anaconda.com/pkgs/msys2')) {
        $result = Invoke-NativeCommand -FilePath $CondaExe -ArgumentList @('tos', 'accept', '--override-channels', '--channel', $channel, '--system')
        if ($result.ExitCode -ne 0) {
            Write-Log -Level Warn -Message ('"conda tos accept" failed for ' + $channel + ' (exit code ' + $result.ExitCode + '); this conda may predate the Terms of Service plugin.')
        }
    }
}

function Install-CondaDistribution {
    <# Downloads, verifies (SHA256 + Authenticode) and silently runs the installer; retries once after a partial install. #>
    [CmdletBinding()]
    param(
        [object] $Info,
        [object] $Config,
        [object] $ProxySettings
    )
    $installer = Join-WinPath $Config.TempDirectory $Info.FileName
    Save-RemoteFile -Url $Info.Url -OutFile $installer -ProxySettings $ProxySettings -Retries $Config.DownloadRetries -Offline $Config.Offline
    $expected = $Info.Sha256
    if ([string]::IsNullOrEmpty($expected)) {
        $expected = Get-Sha256FromSidecar -Url (Get-SidecarUrl -Url $Info.Url) -Directory $Config.TempDirectory -ProxySettings $ProxySettings -Retries $Config.DownloadRetries -Offline $Config.Offline
    }
    Assert-FileHash -Path $installer -ExpectedHash $expected -What $Info.FileName
    Assert-FileSignature -Path $installer -SignerPattern $Info.SignerPattern -What $Info.FileName
    $arguments = Get-CondaInstallerArguments -Prefix $Config.Prefix -AllUsers $Config.IsSystem
    $attempt = 0
    while ($true) {
        $attempt++
        Write-Log -Message ('Installing ' + $Info.Name + ' ' + $Info.Version + ' into ' + $Config.Prefix + ' (silent; this takes a few minutes).')
        Write-Log -Level Detail -Message ('Running: ' + $installer + ' ' + $arguments)
        $code = Start-Installer -FilePath $installer -ArgumentString $arguments
        if (($code -eq 0 -or $code -eq 3010) -and (Test-CondaInstallation -Prefix $Config.Prefix)) {
            Write-Log -Message ($Info.Name + ' installed in ' + $Config.Prefix + '.')
            if ($code -eq 3010) {
                Write-Log -Level Warn -Message 'The installer asked for a restart (exit code 3010); the install itself is complete.'
            }
            return
        }
        $status = Get-CondaPrefixStatus -Prefix $Config.Prefix
        if ($attempt -eq 1 -and $status -eq 'Partial') {
            Write-Log -Level Warn -Message ('The installer exited with code ' + $code + ' and left an incomplete install; trying once more.')
            $null = Move-PartialInstall -Prefix $Config.Prefix
            continue
        }
        throw (New-BootstrapError -ExitCode 4 -Message ($Info.Name + ' installer failed (exit code ' + $code + ', prefix ' + $Config.Prefix + ' is ' + $status +
            '). Antivirus software often blocks or quarantines files during this install; check its log, then run again.'))
    }
}

function Install-PythonRuntime {
    <# Installs (or reuses) our Miniconda/Miniforge and the Python environment; returns the interpreter. #>
    [CmdletBinding()]
    param(
        [object] $Config,
        [object] $ProxySettings
    )
    $info = Get-DistributionInfo -Config $Config
    $targetPython = Get-OwnPythonPath -Prefix $Config.Prefix -PythonVersion $Config.PythonVersion
    $result = [pscustomobject]@{ Python = $null; Conda = $null; Planned = $false }
    if ((Get-NativeArchitecture) -eq 'arm64' -and (Get-WindowsVersion).Build -lt 22000) {
        throw (New-BootstrapError -ExitCode 8 -Message ('No usable Python, and Windows 10 on ARM64 cannot run the x86_64 ' + $info.Name +
            ' installer. Install an ARM64 Python 3.9+ and pass it with -PythonExe.'))
    }
    $status = Get-CondaPrefixStatus -Prefix $Config.Prefix
    Write-Log -Message ($info.Name + ' prefix ' + $Config.Prefix + ': ' + $status + '.')
    if ($status -eq 'Occupied') {
        throw (New-BootstrapError -ExitCode 8 -Message ('The prefix ' + $Config.Prefix + ' already holds other files. Choose an empty folder with -Prefix (short, no spaces).'))
    }
    if ($Config.DryRun) {
        if ($status -eq 'Partial') {
            Write-Log -Message ('[dry-run] would move the incomplete install in ' + $Config.Prefix + ' aside.')
        }
        if ($status -ne 'Installed') {
            Write-Log -Message ('[dry-run] would download ' + $info.Url + ' (SHA256 ' + $info.Sha256 + '), check its Authenticode signature, and run: ' +
                $info.FileName + ' ' + (Get-CondaInstallerArguments -Prefix $Config.Prefix -AllUsers $Config.IsSystem))
        }
        if ($Config.Distribution -eq 'Miniconda' -and $Config.AcceptAnacondaTos) {
            Write-Log -Message '[dry-run] would accept the Anaconda Terms of Service (-AcceptAnacondaTos).'
        }
        else {
            Write-Log -Message ('[dry-run] would write ' + (Join-WinPath $Config.Prefix '.condarc') + ' (channel ' + $Config.CondaChannel + ' only).')
        }
        if ($Config.PythonVersion -ne 'base' -and -not (Test-PathExists -Path $targetPython -PathType Leaf)) {
            $envPrefix = Split-Path -Path $targetPython -Parent
            Write-Log -Message ('[dry-run] would run: conda ' + ((Get-CondaCreateArguments -EnvironmentPrefix $envPrefix -PythonVersion $Config.PythonVersion -Channel $Config.CondaChannel) -join ' '))
        }
        $result.Planned = $true
        $result.Python = [pscustomobject]@{ Usable = $false; Executable = $targetPython; Version = $Config.PythonVersion; Source = 'own-install' }
        return $result
    }
    if ($status -eq 'Partial') {
        $null = Move-PartialInstall -Prefix $Config.Prefix
        $status = 'Missing'
    }
    if ($status -ne 'Installed') {
        Install-CondaDistribution -Info $info -Config $Config -ProxySettings $ProxySettings
    }
    $condaExe = Get-CondaExecutable -Prefix $Config.Prefix
    if ($Config.Distribution -eq 'Miniconda' -and $Config.AcceptAnacondaTos) {
        Invoke-CondaTosAcceptance -CondaExe $condaExe
    }
    else {
        Write-Utf8File -Path (Join-WinPath $Config.Prefix '.condarc') -Content (Get-CondaRcContent -Channel $Config.CondaChannel)
    }
    if ($Config.PythonVersion -ne 'base' -and -not (Test-PathExists -Path $targetPython -PathType Leaf)) {
        $envPrefix = Split-Path -Path $targetPython -Parent
        Write-Log -Message ('Creating a Python ' + $Config.PythonVersion + ' environment in ' + $envPrefix + ' from ' + $Config.CondaChannel + '.')
        $created = Invoke-NativeCommand -FilePath $condaExe -ArgumentList (Get-CondaCreateArguments -EnvironmentPrefix $envPrefix -PythonVersion $Config.PythonVersion -Channel $Config.CondaChannel)
        if ($created.ExitCode -ne 0) {
            throw (New-BootstrapError -ExitCode 4 -Message ('conda could not create the Python ' + $Config.PythonVersion + ' environment (exit code ' + $created.ExitCode +
                '). See the log; offline machines can use -PythonVersion base.'))
        }
    }
    $verdict = Test-PythonProbeResult -Result (Invoke-PythonProbe -Path $targetPython) -Path $targetPython
    if (-not $verdict.Usable) {
        throw (New-BootstrapError -ExitCode 4 -Message ('The newly installed Python ' + $targetPython + ' cannot be used: it ' + $verdict.Reason + '.'))
    }
    $verdict.Source = 'own-install'
    $result.Python = $verdict
    $result.Conda = [pscustomobject]@{
        distribution = $info.Name
        version = $info.Version
        prefix = $Config.Prefix
        installer_url = $info.Url
        installer_sha256 = $info.Sha256
    }
    return $result
}

# ---------------------------------------------------------------------------------------------
# The tool environment
# ---------------------------------------------------------------------------------------------

function Resolve-PybootstrapSource {
    <# What to pip-install: a source folder, a wheel folder, or an archive (path or URL). Never a name. #>
    [CmdletBinding()]
    param(
        [string] $Source,
        [string] $SourceHash,
        [string] $ScriptDirectory,
        [hashtable] $Constants
    )
    if ($null -eq $Constants) {
        $Constants = Get-BootstrapConstants
    }
    if ([string]::IsNullOrEmpty($Source)) {
        if (-not [string]::IsNullOrEmpty($ScriptDirectory) -and
            (Test-PathExists -Path (Join-WinPath $ScriptDirectory 'pyproject.toml') -PathType Leaf) -and
            (Test-PathExists -Path (Join-WinPath $ScriptDirectory 'pybootstrap') -PathType Container)) {
            return [pscustomobject]@{ Kind = 'Folder'; Location = $ScriptDirectory; Wheel = $null; IsUrl = $false; Sha256 = $null; Origin = 'the folder of bootstrap.ps1' }
        }
        $sha = $SourceHash
        if ([string]::IsNullOrEmpty($sha)) {
            $sha = $Constants.PybootstrapArchiveSha256
        }
        return [pscustomobject]@{ Kind = 'Archive'; Location = $Constants.PybootstrapArchiveUrl; Wheel = $null; IsUrl = $true; Sha256 = $sha; Origin = 'the pinned release archive' }
    }
    if (Test-IsUrl -Value $Source) {
        $leaf = (($Source -split '[?#]')[0] -split '/')[-1]
        if ($leaf -notmatch '(?i)\.(zip|tar\.gz|tgz|whl)$') {
            throw (New-BootstrapError -ExitCode 2 -Message ('-Source URL must end in .zip, .tar.gz, .tgz or .whl: ' + $Source))
        }
        return [pscustomobject]@{ Kind = 'Archive'; Location = $Source; Wheel = $null; IsUrl = $true; Sha256 = $SourceHash; Origin = '-Source' }
    }
    $path = $Source
    if ($path -match '^(?i)file://') {
        $path = ([System.Uri]$path).LocalPath
    }
    if (Test-PathExists -Path $path -PathType Container) {
        if (Test-PathExists -Path (Join-WinPath $path 'pyproject.toml') -PathType Leaf) {
            return [pscustomobject]@{ Kind = 'Folder'; Location = $path; Wheel = $null; IsUrl = $false; Sha256 = $null; Origin = '-Source' }
        }
        $wheels = @(Get-DirectoryEntryNames -Path $path -Filter 'pybootstrap-*.whl' | Sort-Object -Descending -Property { ConvertTo-WheelVersion -Name $_ })
        if ($wheels.Count -gt 0) {
            return [pscustomobject]@{ Kind = 'Wheelhouse'; Location = $path; Wheel = (Join-WinPath $path $wheels[0]); IsUrl = $false; Sha256 = $null; Origin = '-Source' }
        }
        throw (New-BootstrapError -ExitCode 8 -Message ('-Source ' + $path + ' holds neither a pyproject.toml nor a pybootstrap-*.whl wheel.'))
    }
    if (Test-PathExists -Path $path -PathType Leaf) {
        if ($path -notmatch '(?i)\.(zip|tar\.gz|tgz|whl)$') {
            throw (New-BootstrapError -ExitCode 2 -Message ('-Source file must be a .zip, .tar.gz, .tgz or .whl: ' + $path))
        }
        return [pscustomobject]@{ Kind = 'Archive'; Location = $path; Wheel = $null; IsUrl = $false; Sha256 = $SourceHash; Origin = '-Source' }
    }
    throw (New-BootstrapError -ExitCode 8 -Message ('-Source ' + $path + ' was not found (check the path and that this account can read the share).'))
}

function Get-PybootstrapSourcePath {
    <# A local path pip can install: downloads and verifies a URL archive; verifies a local one when a SHA256 is given. #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [object] $Source,
        [object] $Config,
        [object] $ProxySettings
    )
    if ($Source.Kind -eq 'Folder') {
        return $Source.Location
    }
    if ($Source.Kind -eq 'Wheelhouse') {
        return $Source.Wheel
    }
    if (-not $Source.IsUrl) {
        if (-not [string]::IsNullOrEmpty($Source.Sha256)) {
            Assert-FileHash -Path $Source.Location -ExpectedHash $Source.Sha256 -What $Source.Location -KeepFile
        }
        return $Source.Location
    }
    $leaf = (($Source.Location -split '[?#]')[0] -split '/')[-1]
    $file = Join-WinPath $Config.TempDirectory $leaf
    Save-RemoteFile -Url $Source.Location -OutFile $file -ProxySettings $ProxySettings -Retries $Config.DownloadRetries -Offline $Config.Offline
    $expected = $Source.Sha256
    if ([string]::IsNullOrEmpty($expected)) {
        $expected = Get-Sha256FromSidecar -Url (Get-SidecarUrl -Url $Source.Location) -Directory $Config.TempDirectory -ProxySettings $ProxySettings -Retries $Config.DownloadRetries -Offline $Config.Offline
    }
    Assert-FileHash -Path $file -ExpectedHash $expected -What $leaf
    return $file
}

function Get-PipInstallArguments {
    <# "python -m pip install <path>" arguments; the target is always a folder or a file path. #>
    [CmdletBinding()]
    param(
        [object] $Source,
        [string] $LocalPath,
        [bool] $Offline = $false
    )
    $arguments = @('-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--upgrade')
    if ($Offline) {
        $arguments += '--no-index'
    }
    if ($Source.Kind -eq 'Wheelhouse') {
        $arguments += @('--find-links', $Source.Location)
    }
    elseif ($Source.Kind -eq 'Archive' -and -not $Source.IsUrl) {
        $parent = Split-Path -Path $LocalPath -Parent
        if ($parent) {
            $arguments += @('--find-links', $parent)
        }
    }
    $arguments += $LocalPath
    return $arguments
}

function Test-ToolEnvironment {
    <# True when the tool environment's python runs and imports pybootstrap. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param([string] $Python)
    if (-not (Test-PathExists -Path $Python -PathType Leaf)) {
        return $false
    }
    $result = Invoke-ProcessCapture -FilePath $Python -ArgumentList @('-c', 'import pybootstrap') -TimeoutSeconds 60
    return ($result.ExitCode -eq 0)
}

function Test-ToolReuse {
    <# True when the state file says this tool environment was built from the same source and Python. #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [object] $State,
        [object] $Source,
        [string] $BasePython
    )
    if ($null -eq $State -or $null -eq $State.tool) {
        return $false
    }
    if ($Source.Kind -eq 'Folder') {
        # A checkout changes under our feet: always reinstall from it.
        return $false
    }
    if ([string]$State.tool.base_python -ne $BasePython -or [string]$State.tool.source -ne [string]$Source.Location) {
        return $false
    }
    if (-not [string]::IsNullOrEmpty($Source.Sha256) -and [string]$State.tool.source_sha256 -ne [string]$Source.Sha256) {
        return $false
    }
    return $true
}

function Remove-ToolEnvironment {
    <# Deletes the tool venv, and only a folder that looks like ours. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string] $Path)
    if ($Path -notmatch '(?i)[\\/]tool[\\/]venv$') {
        throw (New-BootstrapError -ExitCode 8 -Message ('Refusing to delete ' + $Path + ': it is not a pybootstrap tool environment.'))
    }
    if (-not (Test-PathExists -Path $Path -PathType Container)) {
        return
    }
    $names = @(Get-DirectoryEntryNames -Path $Path)
    if ($names.Count -gt 0 -and $names -notcontains 'pyvenv.cfg') {
        throw (New-BootstrapError -ExitCode 8 -Message ('Refusing to delete ' + $Path + ': it holds files but no pyvenv.cfg.'))
    }
    if ($PSCmdlet.ShouldProcess($Path, 'Remove the tool environment')) {
        Remove-Item -LiteralPath $Path -Recurse -Force
    }
}

function Install-ToolEnvironment {
    <# <home>\tool\venv with pybootstrap installed from its own source. #>
    [CmdletBinding()]
    param(
        [object] $Config,
        [object] $Python,
        [object] $State,
        [object] $ProxySettings
    )
    $venv = $Config.ToolVenv
    $venvPython = $Config.ToolPython
    $source = Resolve-PybootstrapSource -Source $Config.Source -SourceHash $Config.SourceSha256 -ScriptDirectory (Get-ScriptDirectory)
    Write-Log -Message ('pybootstrap source: ' + $source.Location + ' (' + $source.Origin + ').')
    $result = [pscustomobject]@{ Python = $venvPython; Venv = $venv; Ready = $false; Reused = $false; Source = $source; LocalSource = $null }
    $venvHealthy = $false
    if (Test-PathExists -Path $venvPython -PathType Leaf) {
        $venvHealthy = (Test-PythonProbeResult -Result (Invoke-PythonProbe -Path $venvPython) -Path $venvPython).Usable
    }
    $sameBase = ($null -ne $State -and $null -ne $State.tool -and [string]$State.tool.base_python -eq [string]$Python.Executable)
    if (-not $Config.Force -and $venvHealthy -and (Test-ToolReuse -State $State -Source $source -BasePython $Python.Executable) -and (Test-ToolEnvironment -Python $venvPython)) {
        Write-Log -Message ('Reusing the tool environment ' + $venv + '.')
        $result.Ready = $true
        $result.Reused = $true
        return $result
    }
    $rebuild = $Config.Force -or -not $venvHealthy -or -not $sameBase
    if ($Config.DryRun) {
        if ($rebuild) {
            Write-Log -Message ('[dry-run] would create the tool environment: ' + (Format-CommandLine -FilePath $Python.Executable -ArgumentList @('-m', 'venv', $venv)))
        }
        $plannedArguments = Get-PipInstallArguments -Source $source -LocalPath $source.Location -Offline $Config.Offline
        Write-Log -Message ('[dry-run] would install pybootstrap: ' + (Format-CommandLine -FilePath $venvPython -ArgumentList $plannedArguments))
        $result.Ready = ($venvHealthy -and (Test-ToolEnvironment -Python $venvPython))
        return $result
    }
    if ($rebuild) {
        Remove-ToolEnvironment -Path $venv
        Write-Log -Message ('Creating the tool environment ' + $venv + ' with ' + $Python.Executable + '.')
        $created = Invoke-NativeCommand -FilePath $Python.Executable -ArgumentList @('-m', 'venv', $venv)
        if ($created.ExitCode -ne 0) {
            throw (New-BootstrapError -ExitCode 4 -Message ('"python -m venv" failed (exit code ' + $created.ExitCode + '). See the log.'))
        }
    }
    $localSource = Get-PybootstrapSourcePath -Source $source -Config $Config -ProxySettings $ProxySettings
    $result.LocalSource = $localSource
    Write-Log -Message 'Installing pybootstrap into the tool environment.'
    $installed = Invoke-NativeCommand -FilePath $venvPython -ArgumentList (Get-PipInstallArguments -Source $source -LocalPath $localSource -Offline $Config.Offline)
    if ($installed.ExitCode -ne 0) {
        throw (New-BootstrapError -ExitCode 4 -Message ('pip could not install pybootstrap from ' + $localSource + ' (exit code ' + $installed.ExitCode +
            '). See the log; behind a proxy or offline see README.md ("Windows bootstrap and fleets").'))
    }
    if (-not (Test-ToolEnvironment -Python $venvPython)) {
        throw (New-BootstrapError -ExitCode 4 -Message 'pybootstrap was installed but does not import in the tool environment. See the log.')
    }
    $result.Ready = $true
    return $result
}

# ---------------------------------------------------------------------------------------------
# State file and hand-off
# ---------------------------------------------------------------------------------------------

function Read-BootstrapState {
    <# Our own state file from an earlier run, or $null. #>
    [CmdletBinding()]
    param([string] $Path)
    if (-not (Test-PathExists -Path $Path -PathType Leaf)) {
        return $null
    }
    try {
        return (Get-Content -LiteralPath $Path -Raw | ConvertFrom-Json)
    }
    catch {
        Write-Log -Level Warn -Message ('Ignoring the unreadable state file ' + $Path + ': ' + $_.Exception.Message)
        return $null
    }
}

function New-BootstrapState {
    <# The state document: what was found or installed, for the next run (which re-probes it). #>
    [CmdletBinding()]
    param(
        [object] $Python,
        [object] $Conda,
        [object] $Tool,
        [object] $PreviousState
    )
    $constants = Get-BootstrapConstants
    if ($null -eq $Conda -and $null -ne $PreviousState -and $null -ne $PreviousState.conda) {
        $Conda = $PreviousState.conda
    }
    $sourceSha = $null
    if ($null -ne $Tool.Source) {
        $sourceSha = $Tool.Source.Sha256
    }
    return [ordered]@{
        schema = 'pybootstrap.bootstrap-state/1'
        updated = (Get-Date).ToUniversalTime().ToString('s') + 'Z'
        bootstrap_version = $constants.BootstrapVersion
        python = [ordered]@{
            executable = $Python.Executable
            version = $Python.Version
            source = $Python.Source
        }
        conda = $Conda
        tool = [ordered]@{
            venv = $Tool.Venv
            python = $Tool.Python
            base_python = $Python.Executable
            source = $Tool.Source.Location
            source_kind = $Tool.Source.Kind
            source_sha256 = $sourceSha
        }
    }
}

function Write-BootstrapState {
    <# Saves the state document as UTF-8 JSON (atomically). #>
    [CmdletBinding()]
    param(
        [string] $Path,
        [object] $State
    )
    Write-Utf8File -Path $Path -Content (ConvertTo-Json -InputObject $State -Depth 6)
    Write-Log -Level Detail -Message ('State saved to ' + $Path)
}

function Get-PybootstrapArguments {
    <# "-m pybootstrap install" plus our flags and the pass-through arguments. #>
    [CmdletBinding()]
    param([object] $Config)
    $arguments = @('-m', 'pybootstrap', 'install')
    if ($Config.DryRun) {
        $arguments += '--dry-run'
    }
    if ($Config.Offline) {
        $arguments += '--offline'
    }
    if ($Config.Verbose) {
        $arguments += '--verbose'
    }
    foreach ($item in @($Config.PybootstrapArgs)) {
        if ($null -ne $item -and [string]$item -ne '') {
            $arguments += [string]$item
        }
    }
    return $arguments
}

function Invoke-Handoff {
    <# Runs pybootstrap in the tool environment and returns its exit code unchanged. #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [object] $Config,
        [object] $Tool
    )
    $arguments = @(Get-PybootstrapArguments -Config $Config)
    $line = Format-CommandLine -FilePath $Tool.Python -ArgumentList $arguments
    if ($Config.DryRun -and -not $Tool.Ready) {
        Write-Log -Message ('[dry-run] would run: ' + $line)
        Write-Log -Message '[dry-run] Nothing was changed.'
        return 0
    }
    Write-Log -Message ('Running: ' + $line)
    $code = Invoke-Pybootstrap -FilePath $Tool.Python -ArgumentList $arguments
    Write-Log -Message ('pybootstrap finished with exit code ' + $code + '.')
    return [int]$code
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

function Invoke-Bootstrap {
    <# The whole run; returns the exit code. #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [hashtable] $Settings = @{},
        [string[]] $BoundNames = @(),
        [bool] $InvokedViaIex = $false
    )
    # Preference variables live in this function only, so they never leak into an "iex" caller.
    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'
    Set-StrictMode -Off
    $finished = $false
    $environmentBackup = $null
    $config = $null
    try {
        $languageProblem = Get-LanguageModeProblem
        if ($languageProblem) {
            Write-Host $languageProblem
            $finished = $true
            return 8
        }
        Assert-PowerShellVersion
        # Open the log before validating the settings, so that usage errors are logged too.
        $effective = $Settings.Clone()
        if ([string]::IsNullOrEmpty([string]$effective['LogPath'])) {
            $earlyHome = Resolve-HomePath -HomePath ([string]$effective['HomePath']) -IsSystem (Test-IsSystem)
            $effective['LogPath'] = Get-DefaultLogPath -HomePath $earlyHome -DryRun (ConvertTo-BoolSetting -Value $effective['DryRun'])
        }
        $null = Initialize-Log -Path ([string]$effective['LogPath'])
        $config = Resolve-BootstrapConfig -Settings $effective -BoundNames $BoundNames
        Write-ConfigSummary -Config $config
        if ($config.DryRun) {
            Write-Log -Message 'Dry run: showing the plan; nothing will be changed.'
        }
        $null = Assert-Platform
        $null = Test-LongPathSupport -Enable $config.EnableLongPaths -DryRun $config.DryRun
        $null = Test-FreeSpace -Path $config.HomePath
        $null = Set-SecurityProtocol
        $proxySettings = Resolve-ProxySettings -Proxy $config.Proxy -UseDefaultCredentials $config.ProxyUseDefaultCredentials -NoProxy $config.NoProxy
        Write-Log -Level Detail -Message ('Proxy: ' + $proxySettings.Mode + ' ' + $proxySettings.Uri)
        $environmentBackup = Set-ProcessEnvironment -Values (Get-ChildEnvironment -Config $config -ProxySettings $proxySettings)
        if (-not $config.DryRun) {
            $config.TempDirectory = New-TempDirectory
        }
        $state = Read-BootstrapState -Path $config.StateFile
        $python = Find-Python -Config $config -State $state
        $conda = $null
        if ($null -eq $python) {
            $null = Test-FreeSpace -Path $config.Prefix
            $runtime = Install-PythonRuntime -Config $config -ProxySettings $proxySettings
            $python = $runtime.Python
            $conda = $runtime.Conda
        }
        $tool = Install-ToolEnvironment -Config $config -Python $python -State $state -ProxySettings $proxySettings
        if (-not $config.DryRun) {
            Write-BootstrapState -Path $config.StateFile -State (New-BootstrapState -Python $python -Conda $conda -Tool $tool -PreviousState $state)
        }
        $code = Invoke-Handoff -Config $config -Tool $tool
        $finished = $true
        return $code
    }
    catch {
        $code = Get-ErrorExitCode -ErrorRecord $_
        Write-Log -Level Error -Message $_.Exception.Message
        if ($code -eq 1) {
            Write-Log -Level Error -Message ('Unexpected error (a bug in bootstrap.ps1; please report it with the log): ' + $_.ScriptStackTrace)
        }
        if ($script:PybootstrapLogFile) {
            Write-Log -Message ('Exit code ' + $code + '. Log: ' + $script:PybootstrapLogFile)
        }
        $finished = $true
        return $code
    }
    finally {
        if ($null -ne $environmentBackup) {
            Restore-ProcessEnvironment -Backup $environmentBackup
        }
        if ($null -ne $config -and $config.TempDirectory) {
            Remove-TempDirectory -Path $config.TempDirectory
        }
        if (-not $finished) {
            # Ctrl+C stops the pipeline without running "catch": report 130 (best effort).
            try {
                Write-Log -Level Warn -Message 'Interrupted.'
            }
            catch {
                $null = $_
            }
            Clear-LogState
            Exit-Bootstrap -Code 130 -ViaIex $InvokedViaIex
        }
        Clear-LogState
    }
}

# The only top-level statement. It runs unless this file is dot-sourced (". .\bootstrap.ps1", as the
# Pester suite does) or PYBOOTSTRAP_NO_MAIN is set. Under "irm | iex" and
# "& ([scriptblock]::Create(...))" a script block literal has no file (({ 0 }).File is empty; unlike
# $MyInvocation, which under iex is the caller's, e.g. a fleet wrapper script's): the result then goes to
# $LASTEXITCODE and the user's window stays open.
if (([string]::IsNullOrEmpty(({ 0 }).File) -or $MyInvocation.InvocationName -ne '.') -and -not $env:PYBOOTSTRAP_NO_MAIN) {
    Exit-Bootstrap -ViaIex ([string]::IsNullOrEmpty(({ 0 }).File)) -Code (Invoke-Bootstrap -InvokedViaIex ([string]::IsNullOrEmpty(({ 0 }).File)) -BoundNames @($PSBoundParameters.Keys) -Settings @{
            Prefix = $Prefix
            HomePath = $HomePath
            Distribution = $Distribution
            InstallerUrl = $InstallerUrl
            InstallerBaseUrl = $InstallerBaseUrl
            InstallerSha256 = $InstallerSha256
            InstallerSigner = $InstallerSigner
            AcceptAnacondaTos = [bool]$AcceptAnacondaTos
            CondaChannel = $CondaChannel
            PythonVersion = $PythonVersion
            PythonExe = $PythonExe
            NoExistingPython = [bool]$NoExistingPython
            Source = $Source
            SourceSha256 = $SourceSha256
            Offline = [bool]$Offline
            Proxy = $Proxy
            ProxyUseDefaultCredentials = [bool]$ProxyUseDefaultCredentials
            NoProxy = [bool]$NoProxy
            DownloadRetries = $DownloadRetries
            DryRun = [bool]$DryRun
            Yes = [bool]$Yes
            LogPath = $LogPath
            Force = [bool]$Force
            EnableLongPaths = [bool]$EnableLongPaths
            PybootstrapArgs = $PybootstrapArgs
        })
}
