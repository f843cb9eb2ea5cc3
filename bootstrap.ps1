<#
.SYNOPSIS
    Gets a usable Python, installs pybootstrap into its own tool environment, then runs
    "python -m pybootstrap install" with your arguments.

.DESCRIPTION
    Thin on purpose: only what must happen before a usable Python exists. pybootstrap itself reads its
    PYBOOTSTRAP_<FLAG> variables, checks long paths and disk space, and writes the verification log.

    1. Guards: language mode, PowerShell 5.1+, operating system and architecture.
    2. Finds Python 3.9+: its own Miniforge, then on Windows PEP 514 entries, the py launcher and PATH
       (never the Microsoft Store stub); on Linux and macOS python3 on PATH.
    3. Only when nothing is usable: installs Miniforge silently (per user; per machine as SYSTEM) after
       checking its SHA256 (and on Windows its Authenticode signature).
    4. Installs pybootstrap into <home>/tool/venv from a pinned source (a wheel or archive checked against
       its SHA256, or a source folder), never by name from an index; reused when it holds that version.
    5. Runs "<tool python> -m pybootstrap install <pass-through arguments>" on this console and returns
       its exit code unchanged.

    As SYSTEM the home is %ProgramData%\pybootstrap, given an ACL that lets only SYSTEM and Administrators
    write before anything goes in. Every parameter defaults from its PYBOOTSTRAP_* variable, so
    "irm <url> | iex" can be configured too. See README.md, "Windows bootstrap and fleets".

.EXAMPLE
    irm https://example.invalid/pybootstrap/bootstrap.ps1 | iex

.EXAMPLE
    powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File bootstrap.ps1 -- --variant cpu --torch 2.5.1
#>
[CmdletBinding(PositionalBinding = $false)]
param(
    # The pybootstrap home. Default: %LOCALAPPDATA%\pybootstrap (as SYSTEM %ProgramData%\pybootstrap),
    # elsewhere $XDG_DATA_HOME/pybootstrap or ~/.local/share/pybootstrap.
    [string] $HomePath = $env:PYBOOTSTRAP_HOME,
    # pybootstrap's source: a .whl/.tar.gz/.tgz/.zip URL or path, or a source folder. Default: this
    # script's folder when it is a checkout, else the pinned release wheel.
    [string] $Source = $env:PYBOOTSTRAP_SOURCE,
    # Expected SHA256 of -Source (else "<source>.sha256" beside it, over HTTPS or from the same folder).
    [string] $SourceSha256 = $env:PYBOOTSTRAP_SOURCE_SHA256,
    # A folder or URL of wheels for pybootstrap's dependencies (pip --no-index --find-links).
    [string] $DependencySource = $env:PYBOOTSTRAP_DEPENDENCY_SOURCE,
    # Use exactly this Python for the tool environment.
    [string] $PythonExe = $env:PYBOOTSTRAP_PYTHON_EXE,
    # Where Miniforge goes when no usable Python exists. Default: <home>\conda.
    [string] $Prefix = $env:PYBOOTSTRAP_PREFIX,
    # Another Miniforge-style installer (URL or path), e.g. an internal mirror.
    [string] $InstallerUrl = $env:PYBOOTSTRAP_INSTALLER_URL,
    # Expected SHA256 of the installer.
    [string] $InstallerSha256 = $env:PYBOOTSTRAP_INSTALLER_SHA256,
    # Proxy for the downloads, also handed to pip and pybootstrap (http://[user:password@]host:port).
    [string] $Proxy = $env:PYBOOTSTRAP_PROXY,
    # Under "-File" PowerShell 7 reads "--" as a parameter without a name (PowerShell/PowerShell#20208):
    # this empty alias takes it, so "bootstrap.ps1 -- --variant cpu" works in every form.
    [Alias('')]
    [switch] $EndOfParameters,
    # Everything else goes to "python -m pybootstrap install" unchanged.
    [Parameter(ValueFromRemainingArguments = $true)]
    [object[]] $PybootstrapArgs
)

# --- Pinned sources, termination, messages ----------------------------------------------------------------------------

function Get-BootstrapConstants {
    <# Pinned versions, URLs and SHA256 values. Bump deliberately, together. #>
    [CmdletBinding()]
    param()
    $miniforge = 'https://github.com/conda-forge/miniforge/releases/download/26.3.2-3/Miniforge3-26.3.2-3-'
    $windows = @{ Url = $miniforge + 'Windows-x86_64.exe'; Sha256 = '14a8635465b5190537ddad6286746ffebbc55a1ed2a7bb14a506595fe3191e1e' }
    return @{
        PybootstrapVersion = '0.1.0'
        # The release wheel. The release stamps its SHA256 here; while empty, "<url>.sha256" (HTTPS) is read.
        ReleaseUrl = 'https://github.com/pybootstrap/pybootstrap/releases/download/v0.1.0/pybootstrap-0.1.0-py3-none-any.whl'
        ReleaseSha256 = ''
        MinimumPython = [version]'3.9'
        # Miniforge 26.3.2-3. Windows: the SHA256 from the release's .sha256 file (conda-forge.org/miniforge); the
        # installer is Authenticode-signed since May 2026 (conda-forge/miniforge#874). Linux and macOS read the
        # .sha256 the release publishes beside each installer (HTTPS). Windows on ARM64 runs the x86_64 installer
        # under emulation (there is no win-arm64 build, conda-forge/miniforge#729).
        Installers = @{
            'windows-x86_64' = $windows
            'windows-arm64' = $windows
            'linux-x86_64' = @{ Url = $miniforge + 'Linux-x86_64.sh'; Sha256 = '' }
            'linux-arm64' = @{ Url = $miniforge + 'Linux-aarch64.sh'; Sha256 = '' }
            'macos-x86_64' = @{ Url = $miniforge + 'MacOSX-x86_64.sh'; Sha256 = '' }
            'macos-arm64' = @{ Url = $miniforge + 'MacOSX-arm64.sh'; Sha256 = '' }
        }
        # The machine-wide home's ACL: owner Administrators; inheritance removed ("P"); SYSTEM and Administrators
        # full control, Users read and execute (0x1200a9); for the folder, its subfolders and files (OICI).
        MachineHomeSddl = 'O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)'
    }
}

function Exit-Bootstrap {
    <# The only place that ends the script. Under "irm | iex" (no script file) "exit" would close the caller's
       window or end a wrapper script: it sets $LASTEXITCODE and returns instead. #>
    [CmdletBinding()]
    param([object] $Code = 0, [bool] $ViaIex = $false)
    $value = 1
    $last = @($Code) | Select-Object -Last 1
    if ($null -ne $last) {
        try { $value = [int]$last } catch { $value = 1 }
    }
    $global:LASTEXITCODE = $value
    if (-not $ViaIex) { exit $value }
}

function New-BootstrapError {
    <# An exception that carries the contract exit code. #>
    [CmdletBinding()]
    param([int] $ExitCode = 1, [string] $Message = 'unexpected error')
    $exception = New-Object -TypeName System.Exception -ArgumentList $Message
    $exception.Data['PybootstrapExitCode'] = $ExitCode
    return $exception
}

function Get-ErrorExitCode {
    <# The exit code an error carries (1 = unexpected, a bug). #>
    [CmdletBinding()]
    param([object] $ErrorRecord)
    $exception = $ErrorRecord
    if ($ErrorRecord -is [System.Management.Automation.ErrorRecord]) { $exception = $ErrorRecord.Exception }
    while ($exception -is [System.Exception]) {
        if ($exception.Data.Contains('PybootstrapExitCode')) { return [int]$exception.Data['PybootstrapExitCode'] }
        $exception = $exception.InnerException
    }
    return 1
}

function Write-Step {
    <# One line for the user (and for a fleet tool's transcript). #>
    [CmdletBinding()]
    param([Parameter(Position = 0)] [string] $Message, [ValidateSet('Info', 'Warn', 'Error')] [string] $Level = 'Info')
    if ($Level -eq 'Error') {
        Write-Host ('[pybootstrap] ERROR: ' + $Message) -ForegroundColor Red
    } elseif ($Level -eq 'Warn') {
        Write-Host ('[pybootstrap] WARNING: ' + $Message) -ForegroundColor Yellow
    } else {
        Write-Host ('[pybootstrap] ' + $Message)
    }
}

function Format-Url {
    <# A URL for messages: no user:password@ and no query string (signed URLs carry tokens there). #>
    [CmdletBinding()]
    param([string] $Url)
    return (($Url -split '[?#]')[0] -replace '^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@', '$1')
}

function Join-PathPart {
    <# Joins with the base path's separator (backslash for Windows paths), without touching the disk. #>
    [CmdletBinding()]
    param([string] $Path, [string] $ChildPath)
    $separator = '/'
    if ($Path -match '\\|^[A-Za-z]:') { $separator = '\' }
    return ($Path.TrimEnd('\', '/') + $separator + ($ChildPath -replace '[\\/]', $separator))
}

function ConvertTo-CommandLine {
    <# One command-line string by the CommandLineToArgvW rules (.NET parses it the same way on Linux and macOS). #>
    [CmdletBinding()]
    param([string[]] $ArgumentList = @())
    $parts = foreach ($argument in $ArgumentList) {
        if ($argument -eq '') {
            '""'
        } elseif ($argument -notmatch '[\s"]') {
            $argument
        } else {
            # Backslashes are doubled only before a quote (and before the closing one); a quote gets a backslash.
            '"' + ($argument -replace '(\\*)"', '$1$1\"' -replace '(\\+)$', '$1$1') + '"'
        }
    }
    return (@($parts) -join ' ')
}

# --- The .NET calls Pester cannot mock, each in one small function ----------------------------------------------------

function Test-IsWindows {
    <# True on Windows, in 5.1 and 7 alike ($IsWindows does not exist in 5.1). #>
    [CmdletBinding()]
    param()
    return ([System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT)
}

function Get-UnixPlatform {
    <# linux or macos, and the machine's architecture (PowerShell 7 outside Windows). #>
    [CmdletBinding()]
    param()
    $os = 'linux'
    if ([System.Runtime.InteropServices.RuntimeInformation]::IsOSPlatform([System.Runtime.InteropServices.OSPlatform]::OSX)) {
        $os = 'macos'
    }
    return @{ Os = $os; Arch = [string][System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture }
}

function Test-IsSystem {
    <# True when running as LocalSystem (S-1-5-18): Intune, ConfigMgr, a GPO startup script. #>
    [CmdletBinding()]
    param()
    try {
        return ([System.Security.Principal.WindowsIdentity]::GetCurrent().User.Value -eq 'S-1-5-18')
    } catch {
        return $false
    }
}

function Set-NetworkDefaults {
    <# TLS 1.2 for Windows PowerShell 5.1 (unless .NET already uses the OS default, 0), and the current Windows
       credentials for the system proxy (an authenticating proxy answers 407 otherwise). #>
    [CmdletBinding()]
    param()
    try {
        $current = [int][System.Net.ServicePointManager]::SecurityProtocol
        if ($current -ne 0 -and ($current -band 3072) -ne 3072) {
            [System.Net.ServicePointManager]::SecurityProtocol = [System.Net.SecurityProtocolType]($current -bor 3072)
        }
    } catch {
        throw (New-BootstrapError -ExitCode 6 -Message ('TLS 1.2 is not available in this .NET Framework; install .NET Framework 4.8 (' + $_.Exception.Message + ').'))
    }
    try { [System.Net.WebRequest]::DefaultWebProxy.Credentials = [System.Net.CredentialCache]::DefaultCredentials } catch { $null = $_ }
    try { [System.Net.Http.HttpClient]::DefaultProxy.Credentials = [System.Net.CredentialCache]::DefaultCredentials } catch { $null = $_ }
}

function Get-Pep514PythonPath {
    <# python.exe paths of PEP 514 entries: HKCU, then HKLM's 64-bit and 32-bit views (RegistryView reaches the
       64-bit view from a 32-bit host too); newest tag first in each; entries without InstallPath skipped. #>
    [CmdletBinding()]
    param()
    foreach ($root in @(@('CurrentUser', 'Default'), @('LocalMachine', 'Registry64'), @('LocalMachine', 'Registry32'))) {
        $base = $null
        try {
            $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($root[0], $root[1])
            $python = $base.OpenSubKey('Software\Python')
            if ($null -eq $python) { continue }
            $found = foreach ($company in $python.GetSubKeyNames() | Where-Object { $_ -ne 'PyLauncher' }) {
                foreach ($tag in $python.OpenSubKey($company).GetSubKeyNames()) {
                    $install = $python.OpenSubKey($company + '\' + $tag + '\InstallPath')
                    if ($null -eq $install) { continue }
                    $exe = [string]$install.GetValue('ExecutablePath')
                    if (-not $exe -and [string]$install.GetValue('')) { $exe = Join-PathPart ([string]$install.GetValue('')) 'python.exe' }
                    $version = [version]'0.0'
                    if ($tag -match '^\d+\.\d+') { $version = [version]$Matches[0] }
                    if ($exe) {
                        [pscustomobject]@{ Path = $exe; Version = $version }
                    }
                }
            }
            @($found) | Sort-Object -Property Version -Descending | ForEach-Object { $_.Path }
        } catch {
            Write-Verbose ('Could not read ' + $root[0] + '\Software\Python: ' + $_.Exception.Message)
        } finally {
            if ($null -ne $base) { $base.Close() }
        }
    }
}

function Invoke-ProcessCapture {
    <# Runs a program with stdin closed and its output captured (probes); kills it after the timeout. #>
    [CmdletBinding()]
    param([string] $FilePath, [string[]] $ArgumentList = @(), [int] $TimeoutSeconds = 60)
    $info = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $info.FileName = $FilePath
    $info.Arguments = ConvertTo-CommandLine -ArgumentList $ArgumentList
    # Windows PowerShell 5.1 does not keep the process directory in step with Set-Location.
    $info.WorkingDirectory = (Get-Location -PSProvider FileSystem).ProviderPath
    $info.UseShellExecute = $false
    $info.RedirectStandardInput = $true
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.CreateNoWindow = $true
    $process = New-Object -TypeName System.Diagnostics.Process
    $process.StartInfo = $info
    try {
        $null = $process.Start()
    } catch {
        return [pscustomobject]@{ ExitCode = -1; Output = $_.Exception.Message }
    }
    try {
        $process.StandardInput.Close()
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        while (-not $process.WaitForExit(200)) {
            # Short waits keep Ctrl+C responsive.
            if ($watch.Elapsed.TotalSeconds -gt $TimeoutSeconds) {
                return [pscustomobject]@{ ExitCode = -1; Output = 'no answer within ' + $TimeoutSeconds + ' s' }
            }
        }
        $process.WaitForExit()
        # A grandchild holding the pipes open must not hang us once the process itself has ended.
        $null = $stdout.Wait(5000)
        $null = $stderr.Wait(5000)
        $text = ''
        if ($stdout.IsCompleted) { $text = [string]$stdout.Result }
        if ($stderr.IsCompleted) { $text = $text + [string]$stderr.Result }
        return [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $text }
    } finally {
        if (-not $process.HasExited) {
            try { $process.Kill() } catch { $null = $_ }
        }
        $process.Dispose()
    }
}

# --- Running programs on this console ---------------------------------------------------------------------------------

function Invoke-Process {
    <# Runs a program on this console (its output and Ctrl+C are the user's) and returns its exit code. On Ctrl+C
       PowerShell stops this function, but the program got the same Ctrl+C (the console's process group): it is
       left to finish its cleanup and its log, not killed. #>
    [CmdletBinding()]
    param(
        [string] $FilePath,
        [string[]] $ArgumentList = @(),
        # An exact command line instead (NSIS wants "/D=<prefix>" last and unquoted).
        [string] $ArgumentString = ''
    )
    if (-not $ArgumentString) { $ArgumentString = ConvertTo-CommandLine -ArgumentList $ArgumentList }
    $start = @{ FilePath = $FilePath; NoNewWindow = $true; PassThru = $true; ErrorAction = 'Stop' }
    if ($ArgumentString) { $start['ArgumentList'] = $ArgumentString }
    $process = $null
    $finished = $false
    try {
        try {
            $process = Start-Process @start
        } catch {
            throw (New-BootstrapError -ExitCode 4 -Message ('Could not start ' + $FilePath + ': ' + $_.Exception.Message))
        }
        # Windows PowerShell 5.1 loses ExitCode unless the handle was taken while the process ran.
        $null = $process.Handle
        while (-not $process.WaitForExit(200)) {
        }
        $finished = $true
        return [int]$process.ExitCode
    } finally {
        if (-not $finished -and $null -ne $process) { $null = $process.WaitForExit(60000) }
    }
}

# --- Guards and settings ----------------------------------------------------------------------------------------------

function Get-Platform {
    <# Os (windows, linux, macos), Arch (x86_64, arm64, x86, ...) and on Windows the major version. Windows reads
       the native architecture from the registry: right also in a 32-bit or emulated process. #>
    [CmdletBinding()]
    param()
    if (-not (Test-IsWindows)) {
        $unix = Get-UnixPlatform
        $arch = @{ X64 = 'x86_64'; Arm64 = 'arm64'; X86 = 'x86' }[[string]$unix.Arch]
        if (-not $arch) { $arch = ([string]$unix.Arch).ToLowerInvariant() }
        return @{ Os = $unix.Os; Arch = $arch; Major = 0 }
    }
    $current = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -ErrorAction SilentlyContinue
    $environment = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment' -ErrorAction SilentlyContinue
    $native = [string]$environment.PROCESSOR_ARCHITECTURE
    if (-not $native) { $native = [string]$env:PROCESSOR_ARCHITEW6432 }
    if (-not $native) { $native = [string]$env:PROCESSOR_ARCHITECTURE }
    $arch = @{ AMD64 = 'x86_64'; ARM64 = 'arm64'; X86 = 'x86' }[$native.ToUpperInvariant()]
    if (-not $arch) { $arch = $native.ToLowerInvariant() }
    # CurrentMajorVersionNumber exists from Windows 10 on.
    return @{ Os = 'windows'; Arch = $arch; Major = [int]$current.CurrentMajorVersionNumber }
}

function Assert-Platform {
    <# PowerShell 5.1+, and Windows 10+ / Linux / macOS on x86_64 or arm64 (exit 8 otherwise). #>
    [CmdletBinding()]
    param(
        [hashtable] $Platform,
        [version] $PowerShellVersion = ([string]$PSVersionTable.PSVersion.Major + '.' + $PSVersionTable.PSVersion.Minor)
    )
    if ($PowerShellVersion -lt [version]'5.1') {
        throw (New-BootstrapError -ExitCode 8 -Message ('PowerShell 5.1 or newer is needed; this is ' + $PowerShellVersion +
            '. Install Windows Management Framework 5.1 or PowerShell 7 (https://aka.ms/powershell).'))
    }
    if ($Platform.Os -eq 'windows' -and $Platform.Major -lt 10) {
        throw (New-BootstrapError -ExitCode 8 -Message 'Windows 10, Windows Server 2016 or newer is needed.')
    }
    if (@('x86_64', 'arm64') -notcontains $Platform.Arch) {
        throw (New-BootstrapError -ExitCode 8 -Message ('This is ' + $Platform.Os + ' on ' + $Platform.Arch + '; PyTorch needs a 64-bit x86_64 or arm64 machine.'))
    }
}

function Get-LanguageModeProblem {
    <# Plain text for a session that is not FullLanguage (an AppLocker or WDAC policy), else $null. #>
    [CmdletBinding()]
    param([string] $Mode = $ExecutionContext.SessionState.LanguageMode)
    if ($Mode -eq 'FullLanguage') { return $null }
    return ('[pybootstrap] ERROR: PowerShell runs in ' + $Mode + ' mode here (an AppLocker or WDAC policy), where bootstrap.ps1 ' +
        'cannot download and verify files. Run the signed bootstrap.ps1 your policy allows, or install Python 3.9+ and ' +
        'pybootstrap yourself. Exit code 8.')
}

function Get-PassThroughArguments {
    <# The arguments for pybootstrap, unchanged, with usage errors (exit 2) for what would only fail later. #>
    [CmdletBinding()]
    param([object[]] $Arguments = @())
    $result = @()
    foreach ($item in @($Arguments)) {
        if ($item -is [array]) {
            # "--packages torch,torchvision" typed in PowerShell arrives as an array: pybootstrap wants the comma list.
            $item = (@($item) | ForEach-Object { [string]$_ }) -join ','
        }
        if ($null -eq $item -or [string]$item -eq '--') { continue }
        # A single dash and a word is a PowerShell-style parameter the script does not have; pybootstrap's own
        # flags are --long (and -v, -q, -h).
        if ([string]$item -match '^-[A-Za-z]' -and [string]$item -notmatch '^-(v+|q+|h)$') {
            throw (New-BootstrapError -ExitCode 2 -Message ('Unknown parameter ' + $item + '. bootstrap.ps1 takes -HomePath, -Source, -SourceSha256, ' +
                '-DependencySource, -PythonExe, -Prefix, -InstallerUrl, -InstallerSha256 and -Proxy; pybootstrap''s flags ' +
                'start with "--" and go after "--" (e.g. -- --variant cpu).'))
        }
        $result += [string]$item
    }
    return , $result
}

function Assert-Settings {
    <# Usage errors (exit 2) in the script's own parameters, before anything is touched. #>
    [CmdletBinding()]
    param([hashtable] $Settings)
    foreach ($name in @('SourceSha256', 'InstallerSha256')) {
        if ($Settings[$name] -and [string]$Settings[$name] -notmatch '^[0-9a-fA-F]{64}$') {
            throw (New-BootstrapError -ExitCode 2 -Message ('-' + $name + ' must be 64 hexadecimal digits, not "' + $Settings[$name] + '".'))
        }
    }
    if ($Settings['Proxy'] -and [string]$Settings['Proxy'] -notmatch '^(?i)https?://[^\s/]+') {
        throw (New-BootstrapError -ExitCode 2 -Message ('-Proxy must be a URL like http://proxy.example:8080, not "' + (Format-Url $Settings['Proxy']) + '".'))
    }
    $source = [string]$Settings['Source']
    if ($source -match '^(?i)https?://' -and ($source -split '[?#]')[0] -notmatch '(?i)\.(whl|tar\.gz|tgz|zip)$') {
        throw (New-BootstrapError -ExitCode 2 -Message ('-Source URL must name a .whl, .tar.gz, .tgz or .zip file: ' + (Format-Url $source)))
    }
}

function Resolve-HomePath {
    <# -HomePath, else %ProgramData%\pybootstrap as SYSTEM, %LOCALAPPDATA%\pybootstrap on Windows,
       $XDG_DATA_HOME/pybootstrap or ~/.local/share/pybootstrap elsewhere (pybootstrap.home has the same rule). #>
    [CmdletBinding()]
    param([string] $HomePath, [string] $Os, [bool] $IsSystem = $false)
    if ($HomePath) { return $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($HomePath).TrimEnd('\', '/') }
    if ($Os -eq 'windows' -and $IsSystem) {
        $base = $env:ProgramData
        if (-not $base) { $base = $env:ALLUSERSPROFILE }
        if (-not $base) { $base = [string]$env:SystemDrive + '\ProgramData' }
    } elseif ($Os -eq 'windows') {
        $base = $env:LOCALAPPDATA
        if (-not $base) { $base = [System.Environment]::GetFolderPath('LocalApplicationData') }
    } else {
        $base = $env:XDG_DATA_HOME
        if (-not $base) { $base = Join-PathPart $HOME '.local/share' }
    }
    return (Join-PathPart $base 'pybootstrap')
}

# --- The machine-wide home as SYSTEM ----------------------------------------------------------------------------------

function Get-AclProblem {
    <# Why an SDDL lets someone other than SYSTEM and Administrators write or change permissions, or $null. #>
    [CmdletBinding()]
    param([string] $Sddl, [switch] $OwnerOnly)
    $trusted = @('SY', 'BA', 'S-1-5-18', 'S-1-5-32-544')
    if ($Sddl -notmatch '^O:(?<owner>[A-Z]{2}|S-[0-9-]+)') { return 'it has no owner' }
    if ($trusted -notcontains $Matches['owner']) {
        return ('it is owned by ' + $Matches['owner'] + ' (an owner can always change the permissions)')
    }
    if ($OwnerOnly) { return $null }
    if ($Sddl -notmatch 'D:(?<flags>[A-Z]*)\(') { return 'it has no access list that can be checked' }
    if ($Matches['flags'] -notmatch 'P') { return 'it inherits permissions from its parent folder' }
    # Write data, append, write EA, delete child, write attributes, delete, WRITE_DAC, WRITE_OWNER, GENERIC_ALL/WRITE.
    $writeMask = 0x500D0156
    $codes = @{ CC = 0x1; DC = 0x2; LC = 0x4; SW = 0x8; RP = 0x10; WP = 0x20; DT = 0x40; LO = 0x80; CR = 0x100; SD = 0x10000
        RC = 0x20000; WD = 0x40000; WO = 0x80000; GA = 0x10000000; GX = 0x20000000; GW = 0x40000000; GR = 0x80000000
        FA = 0x1F01FF; FR = 0x120089; FW = 0x120116; FX = 0x1200A0 }
    foreach ($ace in [regex]::Matches($Sddl, '\((?<type>[A-Z]+);[^;]*;(?<rights>[^;]*);[^;]*;[^;]*;(?<sid>[^;)]+)')) {
        $sid = $ace.Groups['sid'].Value
        if (@('A', 'OA') -notcontains $ace.Groups['type'].Value -or $trusted -contains $sid) { continue }
        $rights = $ace.Groups['rights'].Value
        $mask = [int64]0
        if ($rights -match '^0[xX](?<hex>[0-9a-fA-F]+)$') {
            $mask = [System.Convert]::ToInt64($Matches['hex'], 16)
        } else {
            for ($i = 0; $i + 1 -lt $rights.Length; $i += 2) {
                $code = $codes[$rights.Substring($i, 2)]
                if ($null -eq $code) { $code = $writeMask }  # unknown: assume the worst
                $mask = $mask -bor $code
            }
        }
        if (($mask -band $writeMask) -ne 0) { return ('it lets ' + $sid + ' write (' + $rights + ')') }
    }
    return $null
}

function Set-MachineHomeAcl {
    <# Gives the folder the machine-wide home's owner and ACL (inheritance removed); exit 8 when Windows refuses. #>
    [CmdletBinding()]
    param([string] $Path)
    try {
        $acl = Get-Acl -LiteralPath $Path
        $acl.SetSecurityDescriptorSddlForm((Get-BootstrapConstants).MachineHomeSddl)
        Set-Acl -LiteralPath $Path -AclObject $acl
    } catch {
        throw (New-BootstrapError -ExitCode 8 -Message ('Could not set the permissions of ' + $Path + ': ' + $_.Exception.Message + ' Nothing was installed.'))
    }
}

function Protect-MachineHome {
    <# Makes the SYSTEM home safe before anything goes in; otherwise a user could plant a .pth file in the tool
       environment that the next SYSTEM run executes (CWE-276). A loose existing home is repaired when everything
       in it belongs to SYSTEM or Administrators, and refused with exit 8 otherwise. #>
    [CmdletBinding()]
    param([string] $Path)
    if (-not (Test-Path -LiteralPath $Path)) {
        $null = New-Item -ItemType Directory -Path $Path -Force
        Set-MachineHomeAcl -Path $Path
        $intruder = @(Get-ChildItem -LiteralPath $Path -Force) | Select-Object -First 1
        if ($null -ne $intruder) {
            throw (New-BootstrapError -ExitCode 8 -Message ($intruder.FullName + ' appeared while ' + $Path + ' was being created. Nothing was ' +
                'installed; an administrator should check the machine, delete ' + $Path + ' and run again.'))
        }
        Write-Step ('Created ' + $Path + ' (only SYSTEM and Administrators may write).')
        return
    }
    $problem = Get-AclProblem -Sddl (Get-Acl -LiteralPath $Path).Sddl
    if (-not $problem) { return }
    foreach ($item in @(Get-ChildItem -LiteralPath $Path -Recurse -Force)) {
        $owner = Get-AclProblem -Sddl (Get-Acl -LiteralPath $item.FullName).Sddl -OwnerOnly
        if ($owner) {
            throw (New-BootstrapError -ExitCode 8 -Message ('The machine-wide home ' + $Path + ' is not safe: ' + $problem + ', and ' + $item.FullName +
                ' ' + ($owner -replace '^it ', '') + '. Nothing was changed. An administrator should check it, delete ' + $Path + ' and run again.'))
        }
    }
    Write-Step -Level Warn ('Repairing the permissions of ' + $Path + ': ' + $problem + '.')
    Set-MachineHomeAcl -Path $Path
    $problem = Get-AclProblem -Sddl (Get-Acl -LiteralPath $Path).Sddl
    if ($problem) {
        throw (New-BootstrapError -ExitCode 8 -Message ('Could not make ' + $Path + ' safe: ' + $problem + '. Nothing was installed.'))
    }
}

# --- Downloads and integrity ------------------------------------------------------------------------------------------

function Get-HttpStatusCode {
    <# The HTTP status in an exception chain (5.1: WebException.Response; 7: HttpResponseException.Response). #>
    [CmdletBinding()]
    param([object] $Exception)
    while ($null -ne $Exception) {
        $status = $null
        try { $status = $Exception.Response.StatusCode } catch { $status = $null }
        if ($null -ne $status) { return [int]$status }
        $Exception = $Exception.InnerException
    }
    return $null
}

function Save-Download {
    <# Gets a URL into OutFile (3 attempts, 1 and 2 s apart; a 4xx answer is final), or copies a local/UNC path. #>
    [CmdletBinding()]
    param([string] $Url, [string] $OutFile, [string] $Proxy = '')
    if ($Url -notmatch '^(?i)https?://') {
        $path = $Url
        if ($Url -match '^(?i)file://') { $path = ([System.Uri]$Url).LocalPath }
        if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
            $missing = New-BootstrapError -ExitCode 6 -Message ('File not found: ' + $path + ' (check the path and that this account can read the share).')
            $missing.Data['HttpStatus'] = 404
            throw $missing
        }
        Copy-Item -LiteralPath $path -Destination $OutFile -Force
        return
    }
    $request = @{ Uri = $Url; OutFile = $OutFile; UseBasicParsing = $true; ErrorAction = 'Stop' }
    if ($Proxy) {
        $parsed = [System.Uri]$Proxy
        $request['Proxy'] = $parsed.GetLeftPart([System.UriPartial]::Authority) -replace '//[^/@]*@', '//'
        if ($parsed.UserInfo) {
            $user, $password = $parsed.UserInfo -split ':', 2
            $secret = ConvertTo-SecureString -String ([System.Uri]::UnescapeDataString([string]$password)) -AsPlainText -Force
            $request['ProxyCredential'] = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList ([System.Uri]::UnescapeDataString($user)), $secret
        } else {
            $request['ProxyUseDefaultCredentials'] = $true
        }
    }
    for ($attempt = 1; ; $attempt++) {
        try {
            Write-Step ('Downloading ' + (Format-Url $Url))
            Invoke-WebRequest @request
            return
        } catch {
            Remove-Item -LiteralPath $OutFile -Force -ErrorAction SilentlyContinue
            $status = Get-HttpStatusCode -Exception $_.Exception
            $reason = $_.Exception.Message
            if (($status -ge 400 -and $status -lt 500 -and $status -ne 408 -and $status -ne 429) -or $attempt -ge 3) {
                $failure = New-BootstrapError -ExitCode 6 -Message ('Download failed after ' + $attempt + ' attempt(s): ' + (Format-Url $Url) + ': ' + $reason +
                    ' Check the network, the proxy (-Proxy) and the URL, or use a mirror or file share.')
                $failure.Data['HttpStatus'] = $status
                throw $failure
            }
            Write-Step -Level Warn ('Attempt ' + $attempt + ' failed (' + $reason + '); retrying in ' + $attempt + ' s.')
            Start-Sleep -Seconds $attempt
        }
    }
}

function Get-ExpectedHash {
    <# The SHA256 to check a file against: the one given, else "<url>.sha256" over HTTPS (or loopback HTTP, or
       beside a local/UNC file). A missing checksum file is exit 9; an unreachable one exit 6. #>
    [CmdletBinding()]
    param([string] $Url, [string] $ExpectedHash, [string] $Directory, [string] $Proxy = '')
    if ($ExpectedHash) { return $ExpectedHash.ToLowerInvariant() }
    if ($Url -match '^(?i)http://' -and $Url -notmatch '^(?i)http://(127\.0\.0\.1|localhost|\[::1\])[:/]') {
        throw (New-BootstrapError -ExitCode 9 -Message ('No SHA256 for ' + (Format-Url $Url) + ', and a checksum file over plain HTTP ' +
            'proves nothing. Give the SHA256 (-SourceSha256 / -InstallerSha256) or use HTTPS.'))
    }
    $cut = $Url.IndexOfAny([char[]]@('?', '#'))
    $sidecar = $Url + '.sha256'
    if ($cut -ge 0) { $sidecar = $Url.Substring(0, $cut) + '.sha256' + $Url.Substring($cut) }
    $file = Join-PathPart $Directory ([guid]::NewGuid().ToString('N') + '.sha256')
    try {
        Save-Download -Url $sidecar -OutFile $file -Proxy $Proxy
        $text = [string](Get-Content -LiteralPath $file -Raw)
    } catch {
        $status = $_.Exception.Data['HttpStatus']
        if ((Get-ErrorExitCode -ErrorRecord $_) -eq 6 -and -not ($status -ge 400 -and $status -lt 500)) { throw }
        throw (New-BootstrapError -ExitCode 9 -Message ('No SHA256 for ' + (Format-Url $Url) + ' and no checksum file beside it (' +
            $_.Exception.Message + '). Give the SHA256 (-SourceSha256 / -InstallerSha256).'))
    } finally {
        Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue
    }
    if ($text -notmatch '(?i)(^|[^0-9a-f])(?<hash>[0-9a-f]{64})($|[^0-9a-f])') {
        throw (New-BootstrapError -ExitCode 9 -Message ('The checksum file ' + (Format-Url $sidecar) + ' holds no SHA256.'))
    }
    return $Matches['hash'].ToLowerInvariant()
}

function Get-VerifiedFile {
    <# Downloads or copies Url into Directory, then checks its SHA256 (and with -Signed its Authenticode
       signature); deletes it and stops with exit 9 on a mismatch. Returns the local path. #>
    [CmdletBinding()]
    param([string] $Url, [string] $ExpectedHash, [string] $Directory, [string] $Proxy = '', [switch] $Signed)
    $leaf = (($Url -split '[?#]')[0] -split '[\\/]')[-1]
    $file = Join-PathPart $Directory $leaf
    Save-Download -Url $Url -OutFile $file -Proxy $Proxy
    try {
        $expected = Get-ExpectedHash -Url $Url -ExpectedHash $ExpectedHash -Directory $Directory -Proxy $Proxy
    } catch {
        Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue
        throw
    }
    $actual = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash.ToLowerInvariant()
    if ($actual -ne $expected) {
        Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue
        throw (New-BootstrapError -ExitCode 9 -Message ('SHA256 mismatch for ' + $leaf + ': expected ' + $expected + ', got ' + $actual +
            '. The file was deleted and nothing was installed (a proxy, mirror or truncated download may have changed it).'))
    }
    Write-Step ('SHA256 verified: ' + $leaf)
    if ($Signed) {
        $signature = Get-AuthenticodeSignature -LiteralPath $file
        if ([string]$signature.Status -ne 'Valid') {
            Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue
            throw (New-BootstrapError -ExitCode 9 -Message ('The Authenticode signature of ' + $leaf + ' is not valid (' + $signature.Status + ': ' +
                $signature.StatusMessage + '). The file was deleted and nothing was installed.'))
        }
        Write-Step ('Signature verified: ' + $leaf + ' (' + $signature.SignerCertificate.Subject + ')')
    }
    return $file
}

# --- Finding Python ---------------------------------------------------------------------------------------------------

function Get-PythonInfo {
    <# Runs a candidate once, isolated, and returns it with its Problem ($null when it is usable). #>
    [CmdletBinding()]
    param([string] $Path, [version] $Minimum = '3.9')
    # No double quotes: Windows PowerShell 5.1 mangles them on native command lines.
    $code = "import sys,json,importlib.util as u;print(json.dumps({'executable':sys.executable,'version':list(sys.version_info[:3])," +
        "'bits':64 if sys.maxsize>2**32 else 32,'venv':all(u.find_spec(m) is not None for m in ('venv','ensurepip'))}))"
    $result = Invoke-ProcessCapture -FilePath $Path -ArgumentList @('-I', '-c', $code)
    $info = [pscustomobject]@{ Path = $Path; Executable = $Path; Version = $null; Problem = $null }
    $line = @(([string]$result.Output) -split "`r?`n" | Where-Object { $_.StartsWith('{') }) | Select-Object -Last 1
    $data = $null
    if ($result.ExitCode -eq 0 -and $line) {
        try { $data = ConvertFrom-Json -InputObject $line } catch { $data = $null }
    }
    if ($result.ExitCode -eq 9009) {
        $info.Problem = 'is the Microsoft Store placeholder, not a Python'
    } elseif ($null -eq $data) {
        $info.Problem = 'did not run (exit code ' + $result.ExitCode + ')'
    } else {
        $info.Executable = [string]$data.executable
        $info.Version = [version](@($data.version) -join '.')
        if ($info.Version -lt $Minimum) {
            $info.Problem = 'is Python ' + $info.Version + '; ' + $Minimum + ' or newer is needed'
        } elseif ($info.Executable -match '(?i)\\WindowsApps\\|PythonSoftwareFoundation\.Python') {
            $info.Problem = 'is a Microsoft Store Python (its long package paths break PyTorch installs)'
        } elseif ([int]$data.bits -ne 64) {
            $info.Problem = 'is a 32-bit Python; PyTorch needs a 64-bit one'
        } elseif (-not $data.venv) {
            $info.Problem = 'has no venv/ensurepip module (Debian and Ubuntu: apt install python3-venv)'
        }
    }
    return $info
}

function ConvertFrom-PyLauncherList {
    <# Interpreter paths from "py -0p" output, old and new launcher formats ("-V:3.12 *  C:\...\python.exe"). #>
    [CmdletBinding()]
    param([string] $Text)
    foreach ($line in ($Text -split "`r?`n")) {
        if ($line -match '(?<path>[A-Za-z]:\\.*?\\python[0-9.]*\.exe)\s*\*?\s*$') { $Matches['path'] }
    }
}

function Get-PythonCandidates {
    <# Where to look, in order: our own Miniforge prefixes, then on Windows PEP 514, "py -0p" (lists installed
       runtimes, never installs one) and python/python3 on PATH (never the WindowsApps aliases, which may
       install a runtime or open the Store); elsewhere python3 on PATH. -OwnOnly: our own Miniforge alone. #>
    [CmdletBinding()]
    param([string[]] $Prefixes = @(), [string] $Os, [switch] $OwnOnly)
    $own = 'bin/python3'
    if ($Os -eq 'windows') { $own = 'python.exe' }
    $paths = @($Prefixes | ForEach-Object { Join-PathPart $_ $own })
    $names = @()
    if (-not $OwnOnly -and $Os -eq 'windows') {
        $paths += @(Get-Pep514PythonPath)
        $launcher = @(Get-Command -Name 'py' -CommandType Application -ErrorAction SilentlyContinue) | Select-Object -First 1
        if ($null -ne $launcher) {
            $paths += @(ConvertFrom-PyLauncherList -Text (Invoke-ProcessCapture -FilePath $launcher.Path -ArgumentList @('-0p')).Output)
        }
        $names = @('python', 'python3')
    } elseif (-not $OwnOnly) {
        $names = @('python3')
    }
    foreach ($name in $names) {
        $paths += @(Get-Command -Name $name -CommandType Application -All -ErrorAction SilentlyContinue | ForEach-Object { $_.Path })
    }
    $seen = @{}
    foreach ($path in $paths) {
        if ($path -and $path -notmatch '(?i)\\Microsoft\\WindowsApps\\' -and -not $seen.ContainsKey($path.ToLowerInvariant())) {
            $seen[$path.ToLowerInvariant()] = $true
            $path
        }
    }
}

function Find-Python {
    <# The first usable Python 3.9+, or $null. -PythonExe must be usable (exit 8 otherwise). -OwnOnly (as SYSTEM):
       only our own Miniforge, in the protected home; a Python elsewhere may be one that users can change. #>
    [CmdletBinding()]
    param([string] $PythonExe, [string[]] $Prefixes = @(), [string] $Os, [switch] $OwnOnly)
    $minimum = (Get-BootstrapConstants).MinimumPython
    if ($PythonExe) {
        $info = Get-PythonInfo -Path $PythonExe -Minimum $minimum
        if ($info.Problem) {
            throw (New-BootstrapError -ExitCode 8 -Message ('-PythonExe ' + $PythonExe + ' cannot be used: it ' + $info.Problem + '.'))
        }
        return $info
    }
    foreach ($candidate in @(Get-PythonCandidates -Prefixes $Prefixes -Os $Os -OwnOnly:$OwnOnly)) {
        if (Test-Path -LiteralPath $candidate -PathType Leaf) {
            $info = Get-PythonInfo -Path $candidate -Minimum $minimum
            if (-not $info.Problem) {
                Write-Step ('Using Python ' + $info.Version + ' at ' + $info.Executable + '.')
                return $info
            }
            Write-Step ('Not using ' + $candidate + ': it ' + $info.Problem + '.')
        }
    }
    return $null
}

# --- Installing Miniforge ---------------------------------------------------------------------------------------------

function Get-InstallPathProblem {
    <# Why the installer would refuse a prefix (spaces anywhere; on Windows the NSIS rules), or $null. #>
    [CmdletBinding()]
    param([string] $Path, [string] $Os)
    if ($Path -match '\s') { return 'it contains a space (the installer refuses spaces)' }
    if ($Os -eq 'windows' -and $Path -notmatch '^[A-Za-z]:\\') {
        return 'it must be an absolute path on a local drive, like C:\pybootstrap\conda'
    }
    if ($Os -eq 'windows' -and ($Path -match '[^\x21-\x7E]' -or $Path -match '[\^%!=,()]')) {
        return 'it contains non-ASCII characters or one of ^ % ! = , ( ) (the installer refuses them)'
    }
    if ($Os -eq 'windows' -and $Path.Length -gt 60) {
        return 'it is longer than 60 characters (deep package paths would pass the 260-character limit)'
    }
    return $null
}

function Get-CondaPrefixes {
    <# Where Miniforge goes, in order: -Prefix, else <home>\conda, else %SystemDrive%\pybootstrap\conda (when the
       profile path has a space). Earlier installs are looked for in all of them. #>
    [CmdletBinding()]
    param([string] $Prefix, [string] $HomePath, [string] $Os)
    if ($Prefix) { return $Prefix.TrimEnd('\', '/') }
    Join-PathPart $HomePath 'conda'
    if ($Os -eq 'windows') { [string]$env:SystemDrive + '\pybootstrap\conda' }
}

function Install-Miniforge {
    <# Downloads, verifies (SHA256; Authenticode on Windows) and silently runs the installer into the first usable
       prefix; returns the new Python's info. #>
    [CmdletBinding()]
    param(
        [hashtable] $Platform,
        [string[]] $Prefixes,
        [string] $InstallerUrl,
        [string] $InstallerHash,
        [string] $TempDirectory,
        [string] $Proxy = '',
        [bool] $AllUsers = $false
    )
    $prefix = @($Prefixes | Where-Object { -not (Get-InstallPathProblem -Path $_ -Os $Platform.Os) }) | Select-Object -First 1
    if (-not $prefix) {
        throw (New-BootstrapError -ExitCode 8 -Message ('Miniforge cannot go to ' + $Prefixes[0] + ': ' + (Get-InstallPathProblem -Path $Prefixes[0] -Os $Platform.Os) +
            '. Give -Prefix a short local path without spaces, like C:\pybootstrap\conda.'))
    }
    $url = $InstallerUrl
    $sha256 = $InstallerHash
    if (-not $url) {
        $pinned = (Get-BootstrapConstants).Installers[$Platform.Os + '-' + $Platform.Arch]
        if ($null -eq $pinned) {
            throw (New-BootstrapError -ExitCode 8 -Message ('No usable Python, and no Miniforge for ' + $Platform.Os + '-' + $Platform.Arch + ': install Python 3.9+.'))
        }
        $url = $pinned.Url
        if (-not $sha256) { $sha256 = $pinned.Sha256 }
    }
    if ((Test-Path -LiteralPath $prefix) -and @(Get-ChildItem -LiteralPath $prefix -Force).Count -gt 0) {
        # Its Python was probed already and is unusable: an interrupted install is moved aside, never deleted.
        if (-not (Test-Path -LiteralPath (Join-PathPart $prefix 'conda-meta'))) {
            throw (New-BootstrapError -ExitCode 8 -Message ('No usable Python, and ' + $prefix + ' already holds other files. Choose an empty folder with -Prefix.'))
        }
        $aside = $prefix + '.broken-' + (Get-Date).ToString('yyyyMMddHHmmss')
        Write-Step -Level Warn ('Moving the incomplete install in ' + $prefix + ' aside to ' + $aside + '.')
        Move-Item -LiteralPath $prefix -Destination $aside
    }
    $windows = $Platform.Os -eq 'windows'
    $installer = Get-VerifiedFile -Url $url -ExpectedHash $sha256 -Directory $TempDirectory -Proxy $Proxy -Signed:$windows
    Write-Step ('Installing Miniforge into ' + $prefix + ' (silent; a few minutes).')
    if ($windows) {
        $type = 'JustMe'
        if ($AllUsers) { $type = 'AllUsers' }
        # constructor's NSIS options: no PATH, registry or shortcut changes; "/D=" last and unquoted.
        $code = Invoke-Process -FilePath $installer -ArgumentString ('/InstallationType=' + $type + ' /RegisterPython=0 /AddToPath=0 /NoRegistry=1 /NoShortcuts=1 /S /D=' + $prefix)
        $python = Join-PathPart $prefix 'python.exe'
    } else {
        # -b: batch mode (no questions, no shell profile changes); -p: the prefix.
        $code = Invoke-Process -FilePath 'bash' -ArgumentList @($installer, '-b', '-p', $prefix)
        $python = Join-PathPart $prefix 'bin/python3'
    }
    if ($code -ne 0 -and $code -ne 3010) {
        throw (New-BootstrapError -ExitCode 4 -Message ('The Miniforge installer failed (exit code ' + $code + '). Antivirus software often blocks it; check, then run again.'))
    }
    $info = Get-PythonInfo -Path $python -Minimum (Get-BootstrapConstants).MinimumPython
    if ($info.Problem) {
        throw (New-BootstrapError -ExitCode 4 -Message ('The installer finished, but ' + $python + ' ' + $info.Problem + '.'))
    }
    Write-Step ('Miniforge installed; using Python ' + $info.Version + ' at ' + $info.Executable + '.')
    return $info
}

# --- The tool environment ---------------------------------------------------------------------------------------------

function Resolve-PybootstrapSource {
    <# Where pybootstrap comes from: Kind (Url, File, Folder), Location, Sha256 and Version. Never a name. #>
    [CmdletBinding()]
    param([string] $Source, [string] $ExpectedHash, [string] $ScriptDirectory)
    $kind = 'Url'
    if (-not $Source -and $ScriptDirectory -and (Test-Path -LiteralPath (Join-PathPart $ScriptDirectory 'pybootstrap/__init__.py') -PathType Leaf)) {
        $Source = $ScriptDirectory
        $kind = 'Folder'
    } elseif (-not $Source) {
        $Source = (Get-BootstrapConstants).ReleaseUrl
        if (-not $ExpectedHash) { $ExpectedHash = (Get-BootstrapConstants).ReleaseSha256 }
    } elseif ($Source -notmatch '^(?i)https?://') {
        if (Test-Path -LiteralPath $Source -PathType Container) {
            $kind = 'Folder'
        } elseif (Test-Path -LiteralPath $Source -PathType Leaf) {
            $kind = 'File'
        } else {
            throw (New-BootstrapError -ExitCode 8 -Message ('-Source ' + $Source + ' was not found (check the path and that this account can read the share).'))
        }
    }
    $version = $null
    $init = Join-PathPart $Source 'pybootstrap/__init__.py'
    if ($kind -eq 'Folder' -and (Test-Path -LiteralPath $init -PathType Leaf) -and [string](Get-Content -LiteralPath $init -Raw) -match '__version__\s*=\s*[''"](?<v>[^''"]+)') {
        $version = $Matches['v']
    } elseif ($kind -ne 'Folder' -and (($Source -split '[?#]')[0] -split '[\\/]')[-1] -match '^pybootstrap-(?<v>[0-9][^-]*?)(-py|\.tar\.gz$|\.tgz$|\.zip$)') {
        $version = $Matches['v']
    }
    return [pscustomobject]@{ Kind = $kind; Location = $Source; Sha256 = [string]$ExpectedHash; Version = $version }
}

function Get-ToolVersion {
    <# pybootstrap's version in a tool environment, or $null. #>
    [CmdletBinding()]
    param([string] $Python)
    if (-not (Test-Path -LiteralPath $Python -PathType Leaf)) { return $null }
    $result = Invoke-ProcessCapture -FilePath $Python -ArgumentList @('-I', '-c', 'import pybootstrap; print(pybootstrap.__version__)')
    if ($result.ExitCode -ne 0) { return $null }
    return ([string]$result.Output).Trim()
}

function Install-ToolEnvironment {
    <# <home>/tool/venv with pybootstrap from Source; reused when it holds that version from that source. The
       source is fetched and verified before an existing environment is touched. Returns its python. #>
    [CmdletBinding()]
    param(
        [string] $BasePython,
        [string] $HomePath,
        [object] $Source,
        [string] $DependencySource,
        [string] $TempDirectory,
        [string] $Proxy = '',
        [string] $Os
    )
    $venv = Join-PathPart $HomePath 'tool/venv'
    $python = Join-PathPart $venv 'bin/python'
    if ($Os -eq 'windows') { $python = Join-PathPart $venv 'Scripts\python.exe' }
    $marker = Join-PathPart $venv 'pybootstrap-source.txt'
    $stamp = $Source.Location + '|' + $Source.Sha256
    if ($Source.Version -and (Test-Path -LiteralPath $marker -PathType Leaf) -and ([string](Get-Content -LiteralPath $marker -Raw -Encoding UTF8)).Trim() -eq $stamp -and
        (Get-ToolVersion -Python $python) -eq $Source.Version) {
        Write-Step ('Reusing the tool environment ' + $venv + ' (pybootstrap ' + $Source.Version + ').')
        return $python
    }
    $target = $Source.Location
    if ($Source.Kind -ne 'Folder') {
        $target = Get-VerifiedFile -Url $Source.Location -ExpectedHash $Source.Sha256 -Directory $TempDirectory -Proxy $Proxy
    }
    if (Test-Path -LiteralPath $venv) {
        if (-not (Test-Path -LiteralPath (Join-PathPart $venv 'pyvenv.cfg') -PathType Leaf)) {
            throw (New-BootstrapError -ExitCode 8 -Message ('Refusing to replace ' + $venv + ': it is not a virtual environment.'))
        }
        Remove-Item -LiteralPath $venv -Recurse -Force
    }
    Write-Step ('Creating the tool environment ' + $venv + '.')
    if ((Invoke-Process -FilePath $BasePython -ArgumentList @('-m', 'venv', $venv)) -ne 0) {
        throw (New-BootstrapError -ExitCode 4 -Message ('"python -m venv ' + $venv + '" failed; see the output above.'))
    }
    # A file or folder, never the name "pybootstrap": an unrelated project of that name is on PyPI.
    $pip = @('-m', 'pip', 'install', '--disable-pip-version-check', '--no-input')
    if ($DependencySource) { $pip += @('--no-index', '--find-links', $DependencySource) }
    Write-Step ('Installing pybootstrap from ' + (Format-Url $Source.Location) + '.')
    if ((Invoke-Process -FilePath $python -ArgumentList ($pip + $target)) -ne 0) {
        throw (New-BootstrapError -ExitCode 4 -Message ('pip could not install pybootstrap from ' + (Format-Url $Source.Location) +
            '; see the output above (offline: -DependencySource, a folder of wheels).'))
    }
    $installed = Get-ToolVersion -Python $python
    if (-not $installed -or ($Source.Version -and $installed -ne $Source.Version)) {
        throw (New-BootstrapError -ExitCode 4 -Message ('pybootstrap ' + $Source.Version + ' was expected in ' + $venv + ', found "' + $installed + '".'))
    }
    Set-Content -LiteralPath $marker -Value $stamp -Encoding UTF8
    return $python
}

# --- Main -------------------------------------------------------------------------------------------------------------

function Invoke-Bootstrap {
    <# The whole run; returns the exit code (interrupted: 130 through Exit-Bootstrap). #>
    [CmdletBinding()]
    param([hashtable] $Settings = @{}, [object[]] $PassThrough = @(), [string] $ScriptDirectory = '', [bool] $ViaIex = $false)
    # Preference variables live in this function only, so they never leak into an "iex" caller.
    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'
    $finished = $false
    $saved = @{}
    $temp = $null
    try {
        $languageProblem = Get-LanguageModeProblem
        if ($languageProblem) {
            Write-Host $languageProblem
            $finished = $true
            return 8
        }
        $platform = Get-Platform
        Assert-Platform -Platform $platform
        $arguments = Get-PassThroughArguments -Arguments $PassThrough
        Assert-Settings -Settings $Settings
        Set-NetworkDefaults
        $os = $platform.Os
        $isSystem = $os -eq 'windows' -and (Test-IsSystem)
        $homePath = Resolve-HomePath -HomePath $Settings['HomePath'] -Os $os -IsSystem $isSystem
        $source = Resolve-PybootstrapSource -Source $Settings['Source'] -ExpectedHash $Settings['SourceSha256'] -ScriptDirectory $ScriptDirectory
        $proxy = [string]$Settings['Proxy']
        if ($isSystem) { Protect-MachineHome -Path $homePath }
        $temp = Join-PathPart $homePath ('tmp/' + [guid]::NewGuid().ToString('N'))
        try {
            # New-Item -Force below a file creates nothing and reports nothing (PowerShell 7.6): check the result.
            $null = New-Item -ItemType Directory -Path $temp -Force
            if (-not (Test-Path -LiteralPath $temp -PathType Container)) { throw ('it is not a folder one can write to.') }
        } catch {
            $temp = $null
            throw (New-BootstrapError -ExitCode 8 -Message ('Cannot write to the pybootstrap home ' + $homePath + ': ' + $_.Exception.Message + ' Choose another with -HomePath.'))
        }
        # For pip and pybootstrap: the same home (also as SYSTEM) and the proxy; put back at the end.
        $children = @{ PYBOOTSTRAP_HOME = $homePath }
        if ($proxy) {
            $children['HTTP_PROXY'] = $proxy
            $children['HTTPS_PROXY'] = $proxy
        }
        foreach ($name in $children.Keys) {
            $saved[$name] = [System.Environment]::GetEnvironmentVariable($name)
            Set-Item -LiteralPath ('Env:' + $name) -Value $children[$name]
        }
        $prefixes = @(Get-CondaPrefixes -Prefix $Settings['Prefix'] -HomePath $homePath -Os $os)
        $python = Find-Python -PythonExe $Settings['PythonExe'] -Prefixes $prefixes -Os $os -OwnOnly:$isSystem
        if ($null -eq $python) {
            Write-Step 'No usable Python 3.9+ was found; installing Miniforge.'
            $python = Install-Miniforge -Platform $platform -Prefixes $prefixes -InstallerUrl $Settings['InstallerUrl'] -InstallerHash $Settings['InstallerSha256'] `
                -TempDirectory $temp -Proxy $proxy -AllUsers $isSystem
        }
        $toolPython = Install-ToolEnvironment -BasePython $python.Executable -HomePath $homePath -Source $source -DependencySource $Settings['DependencySource'] `
            -TempDirectory $temp -Proxy $proxy -Os $os
        $handoff = @('-m', 'pybootstrap', 'install') + $arguments
        Write-Step ('Running: ' + (ConvertTo-CommandLine -ArgumentList (@($toolPython) + $handoff)))
        $code = Invoke-Process -FilePath $toolPython -ArgumentList $handoff
        $finished = $true
        return $code
    } catch {
        $code = Get-ErrorExitCode -ErrorRecord $_
        Write-Step -Level Error $_.Exception.Message
        if ($code -eq 1) { Write-Step -Level Error ('Unexpected error (a bug in bootstrap.ps1; please report it): ' + $_.ScriptStackTrace) }
        Write-Step ('Exit code ' + $code + '.')
        $finished = $true
        return $code
    } finally {
        foreach ($name in $saved.Keys) {
            if ($null -eq $saved[$name]) {
                Remove-Item -LiteralPath ('Env:' + $name) -ErrorAction SilentlyContinue
            } else {
                Set-Item -LiteralPath ('Env:' + $name) -Value $saved[$name]
            }
        }
        if ($temp) { Remove-Item -LiteralPath $temp -Recurse -Force -ErrorAction SilentlyContinue }
        if (-not $finished) {
            # Ctrl+C stops the pipeline without "catch"; the program we ran has ended by now.
            Write-Step -Level Error 'Interrupted. Exit code 130.'
            Exit-Bootstrap -Code 130 -ViaIex $ViaIex
        }
    }
}

# The only top-level statement. It runs unless this file is dot-sourced (". .\bootstrap.ps1", as the Pester suite
# does) or PYBOOTSTRAP_NO_MAIN is set. Under "irm | iex" and "& ([scriptblock]::Create(...))" a script block has no
# file (({ 0 }).File is empty; $MyInvocation would be the caller's): the result then goes to $LASTEXITCODE and the
# caller's window or wrapper script goes on.
if (([string]::IsNullOrEmpty(({ 0 }).File) -or $MyInvocation.InvocationName -ne '.') -and -not $env:PYBOOTSTRAP_NO_MAIN) {
    Exit-Bootstrap -ViaIex ([string]::IsNullOrEmpty(({ 0 }).File)) -Code (Invoke-Bootstrap -ViaIex ([string]::IsNullOrEmpty(({ 0 }).File)) `
            -ScriptDirectory ([string]$(if (({ 0 }).File) { Split-Path -Path ({ 0 }).File -Parent })) -PassThrough $PybootstrapArgs -Settings @{
            HomePath = $HomePath
            Source = $Source
            SourceSha256 = $SourceSha256
            DependencySource = $DependencySource
            PythonExe = $PythonExe
            Prefix = $Prefix
            InstallerUrl = $InstallerUrl
            InstallerSha256 = $InstallerSha256
            Proxy = $Proxy
        })
}
