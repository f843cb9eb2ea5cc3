# Guards (platform, PowerShell version, language mode), the script's own settings, the pass-through arguments,
# the home, and the small helpers they use.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    . (Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'Get-Platform on Windows' {
    BeforeEach {
        Mock Test-IsWindows { $true }
        Mock Get-ItemProperty { [pscustomobject]@{ CurrentMajorVersionNumber = 10 } } -ParameterFilter { $LiteralPath -like '*Windows NT\CurrentVersion' }
        Mock Get-ItemProperty { [pscustomobject]@{ PROCESSOR_ARCHITECTURE = 'AMD64' } }
    }

    It 'reads the native architecture from the registry, right also in a 32-bit process (<Native> -> <Arch>)' -ForEach @(
        @{ Native = 'AMD64'; Arch = 'x86_64' }
        @{ Native = 'ARM64'; Arch = 'arm64' }
        @{ Native = 'x86'; Arch = 'x86' }
    ) {
        Mock Get-ItemProperty { [pscustomobject]@{ PROCESSOR_ARCHITECTURE = $Native } } -ParameterFilter { $LiteralPath -like '*Session Manager\Environment' }
        $saved = $env:PROCESSOR_ARCHITECTURE
        $env:PROCESSOR_ARCHITECTURE = 'x86'  # what a 32-bit host sees
        try {
            $platform = Get-Platform
        } finally {
            $env:PROCESSOR_ARCHITECTURE = $saved
        }
        $platform.Os | Should -Be 'windows'
        $platform.Arch | Should -Be $Arch
        $platform.Major | Should -Be 10
    }

    It 'falls back to PROCESSOR_ARCHITEW6432 when the registry cannot be read' {
        Mock Get-ItemProperty { $null } -ParameterFilter { $LiteralPath -like '*Session Manager\Environment' }
        $saved = $env:PROCESSOR_ARCHITEW6432
        $env:PROCESSOR_ARCHITEW6432 = 'AMD64'
        try {
            (Get-Platform).Arch | Should -Be 'x86_64'
        } finally {
            $env:PROCESSOR_ARCHITEW6432 = $saved
        }
    }

    It 'reports a Windows without CurrentMajorVersionNumber (8.1 and older) as major version 0' {
        Mock Get-ItemProperty { [pscustomobject]@{ CurrentVersion = '6.3' } } -ParameterFilter { $LiteralPath -like '*Windows NT\CurrentVersion' }
        (Get-Platform).Major | Should -Be 0
    }
}

Describe 'Get-Platform elsewhere' {
    It 'maps .NET''s architecture names (<Reported> -> <Arch>)' -ForEach @(
        @{ Reported = 'X64'; Arch = 'x86_64' }
        @{ Reported = 'Arm64'; Arch = 'arm64' }
        @{ Reported = 'S390x'; Arch = 's390x' }
    ) {
        Mock Test-IsWindows { $false }
        Mock Get-UnixPlatform { @{ Os = 'macos'; Arch = $Reported } }
        $platform = Get-Platform
        $platform.Os | Should -Be 'macos'
        $platform.Arch | Should -Be $Arch
    }

    It 'describes this machine' {
        $platform = Get-Platform
        @('windows', 'linux', 'macos') | Should -Contain $platform.Os
        $platform.Arch | Should -Not -BeNullOrEmpty
    }
}

Describe 'Assert-Platform' {
    It 'accepts <Os> on <Arch>' -ForEach @(
        @{ Os = 'windows'; Arch = 'x86_64'; Major = 10 }
        @{ Os = 'windows'; Arch = 'arm64'; Major = 10 }
        @{ Os = 'linux'; Arch = 'arm64'; Major = 0 }
        @{ Os = 'macos'; Arch = 'x86_64'; Major = 0 }
    ) {
        { Assert-Platform -Platform @{ Os = $Os; Arch = $Arch; Major = $Major } -PowerShellVersion '5.1' } | Should -Not -Throw
    }

    It 'refuses <Case> with exit code 8' -ForEach @(
        @{ Case = 'PowerShell 5.0'; Platform = @{ Os = 'windows'; Arch = 'x86_64'; Major = 10 }; Version = '5.0'; Message = 'PowerShell 5.1 or newer is needed; this is 5.0.*' }
        @{ Case = 'Windows 8.1'; Platform = @{ Os = 'windows'; Arch = 'x86_64'; Major = 0 }; Version = '5.1'; Message = 'Windows 10, Windows Server 2016 or newer is needed.' }
        @{ Case = '32-bit Windows'; Platform = @{ Os = 'windows'; Arch = 'x86'; Major = 10 }; Version = '5.1'; Message = 'This is windows on x86; PyTorch needs a 64-bit x86_64 or arm64 machine.' }
        @{ Case = 'Linux on s390x'; Platform = @{ Os = 'linux'; Arch = 's390x'; Major = 0 }; Version = '7.4'; Message = 'This is linux on s390x;*' }
    ) {
        Get-ThrownExitCode { Assert-Platform -Platform $Platform -PowerShellVersion $Version } | Should -Be 8
        Get-ThrownMessage { Assert-Platform -Platform $Platform -PowerShellVersion $Version } | Should -BeLike $Message
    }

    It 'takes this PowerShell''s version by default' {
        { Assert-Platform -Platform @{ Os = 'linux'; Arch = 'x86_64'; Major = 0 } } | Should -Not -Throw
    }
}

Describe 'Get-LanguageModeProblem' {
    It 'is silent in FullLanguage and explains <Mode> in plain text' -ForEach @(
        @{ Mode = 'ConstrainedLanguage' }
        @{ Mode = 'RestrictedLanguage' }
    ) {
        Get-LanguageModeProblem -Mode 'FullLanguage' | Should -BeNullOrEmpty
        Get-LanguageModeProblem -Mode $Mode | Should -BeLike ('*pybootstrap] ERROR: PowerShell runs in ' + $Mode + ' mode here (an AppLocker or WDAC policy)*Exit code 8.')
        Get-LanguageModeProblem | Should -BeNullOrEmpty
    }
}

Describe 'Get-PassThroughArguments' {
    It 'keeps pybootstrap''s arguments in order and unchanged' {
        $arguments = Get-PassThroughArguments -Arguments @('--variant', 'cu121', '--index-url', 'https://mirror.example/whl?token=x', '--find-links', 'D:\with space', '-v', '-qq', '--log', '-')
        $arguments | Should -Be @('--variant', 'cu121', '--index-url', 'https://mirror.example/whl?token=x', '--find-links', 'D:\with space', '-v', '-qq', '--log', '-')
    }

    It 'drops the "--" separator and gives back the comma list PowerShell made an array of' {
        $arguments = Get-PassThroughArguments -Arguments @('--', '--packages', @('torch', 'torchvision'), '--torch', '2.5')
        $arguments | Should -Be @('--packages', 'torch,torchvision', '--torch', '2.5')
    }

    It 'is an empty list when there is nothing to pass' {
        $arguments = Get-PassThroughArguments -Arguments @()
        , $arguments | Should -BeOfType [object[]]
        $arguments.Count | Should -Be 0
    }

    It 'refuses <Given> (a PowerShell-style parameter the script does not have) with exit code 2' -ForEach @(
        @{ Given = '-Torch' }
        @{ Given = '-Yes' }
        @{ Given = '-DryRun' }
    ) {
        Get-ThrownExitCode { Get-PassThroughArguments -Arguments @($Given) } | Should -Be 2
        Get-ThrownMessage { Get-PassThroughArguments -Arguments @($Given) } | Should -BeLike ('Unknown parameter ' + $Given + '. bootstrap.ps1 takes -HomePath*after "--" (e.g. -- --variant cpu).')
    }
}

Describe 'Assert-Settings' {
    It 'accepts good values and nothing at all' {
        { Assert-Settings -Settings @{} } | Should -Not -Throw
        { Assert-Settings -Settings @{ SourceSha256 = ('AB' * 32); InstallerSha256 = ('0f' * 32); Proxy = 'http://u:p@proxy:3128'; Source = 'https://x.example/pybootstrap-0.1.0.tar.gz?sig=1' } } | Should -Not -Throw
        { Assert-Settings -Settings @{ Source = 'D:\share\pybootstrap' } } | Should -Not -Throw
    }

    It 'refuses <Case> with exit code 2 and says which parameter' -ForEach @(
        @{ Case = 'a short SHA256'; Settings = @{ SourceSha256 = 'abc123' }; Message = '-SourceSha256 must be 64 hexadecimal digits, not "abc123".' }
        @{ Case = 'a non-hex SHA256'; Settings = @{ InstallerSha256 = ('zz' * 32) }; Message = '-InstallerSha256 must be 64 hexadecimal digits*' }
        @{ Case = 'a proxy without a scheme'; Settings = @{ Proxy = 'proxy:3128' }; Message = '-Proxy must be a URL like http://proxy.example:8080, not "proxy:3128".' }
        @{ Case = 'a proxy password'; Settings = @{ Proxy = 'ftp://user:hunter2@proxy' }; Message = '-Proxy must be a URL like http://proxy.example:8080, not "ftp://proxy".' }
        @{ Case = 'a source URL that names no file'; Settings = @{ Source = 'https://example.test/pybootstrap/' }; Message = '-Source URL must name a .whl, .tar.gz, .tgz or .zip file: https://example.test/pybootstrap/' }
    ) {
        Get-ThrownExitCode { Assert-Settings -Settings $Settings } | Should -Be 2
        Get-ThrownMessage { Assert-Settings -Settings $Settings } | Should -BeLike $Message
    }
}

Describe 'Resolve-HomePath' {
    BeforeAll {
        $script:saved = @{}
        foreach ($name in @('ProgramData', 'ALLUSERSPROFILE', 'SystemDrive', 'LOCALAPPDATA', 'XDG_DATA_HOME')) {
            $script:saved[$name] = [System.Environment]::GetEnvironmentVariable($name)
        }
    }
    AfterEach {
        foreach ($name in $script:saved.Keys) { [System.Environment]::SetEnvironmentVariable($name, $script:saved[$name]) }
    }

    It 'is %ProgramData%\pybootstrap as SYSTEM (then ALLUSERSPROFILE, then the system drive), never the SYSTEM profile' {
        $env:LOCALAPPDATA = 'C:\Windows\system32\config\systemprofile\AppData\Local'
        $env:ProgramData = 'C:\ProgramData'
        Resolve-HomePath -Os windows -IsSystem $true | Should -Be 'C:\ProgramData\pybootstrap'
        [System.Environment]::SetEnvironmentVariable('ProgramData', $null)
        $env:ALLUSERSPROFILE = 'D:\ProgramData'
        Resolve-HomePath -Os windows -IsSystem $true | Should -Be 'D:\ProgramData\pybootstrap'
        [System.Environment]::SetEnvironmentVariable('ALLUSERSPROFILE', $null)
        $env:SystemDrive = 'E:'
        Resolve-HomePath -Os windows -IsSystem $true | Should -Be 'E:\ProgramData\pybootstrap'
    }

    It 'is %LOCALAPPDATA%\pybootstrap for a user' {
        $env:LOCALAPPDATA = 'C:\Users\alice\AppData\Local'
        Resolve-HomePath -Os windows -IsSystem $false | Should -Be 'C:\Users\alice\AppData\Local\pybootstrap'
    }

    It 'is $XDG_DATA_HOME/pybootstrap, else ~/.local/share/pybootstrap, on Linux and macOS' {
        $env:XDG_DATA_HOME = '/srv/data'
        Resolve-HomePath -Os linux | Should -Be '/srv/data/pybootstrap'
        [System.Environment]::SetEnvironmentVariable('XDG_DATA_HOME', $null)
        Resolve-HomePath -Os macos | Should -Be ((Join-PathPart $HOME '.local/share') + '/pybootstrap')
    }

    It 'takes -HomePath as given, made absolute, without a trailing separator' {
        Resolve-HomePath -HomePath ((Join-Path $TestDrive 'custom') + [System.IO.Path]::DirectorySeparatorChar) -Os windows -IsSystem $true |
            Should -Be (Join-Path $TestDrive 'custom')
    }
}

Describe 'Small helpers' {
    It 'Format-Url drops credentials and the query string' {
        Format-Url 'https://user:p%40ss@mirror.example/x/pybootstrap-0.1.0.whl?sig=abc&se=1#frag' | Should -Be 'https://mirror.example/x/pybootstrap-0.1.0.whl'
        Format-Url '\\server\share\pybootstrap.whl' | Should -Be '\\server\share\pybootstrap.whl'
    }

    It 'Join-PathPart keeps the base path''s separator' {
        Join-PathPart 'C:\Users\a\AppData\Local\pybootstrap' 'tool/venv' | Should -Be 'C:\Users\a\AppData\Local\pybootstrap\tool\venv'
        Join-PathPart '/home/a/.local/share/pybootstrap/' 'tool\venv' | Should -Be '/home/a/.local/share/pybootstrap/tool/venv'
        Join-PathPart '\\server\share' 'x' | Should -Be '\\server\share\x'
    }

    It 'New-BootstrapError and Get-ErrorExitCode carry the exit code, also wrapped; anything else is 1' {
        $inner = New-BootstrapError -ExitCode 9 -Message 'bad hash'
        Get-ErrorExitCode -ErrorRecord $inner | Should -Be 9
        Get-ErrorExitCode -ErrorRecord (New-Object System.Exception -ArgumentList 'outer', $inner) | Should -Be 9
        Get-ThrownExitCode { throw (New-BootstrapError -ExitCode 6 -Message 'x') } | Should -Be 6
        Get-ThrownExitCode { throw 'plain' } | Should -Be 1
    }

    It 'Write-Step writes one line with its level''s prefix' {
        Mock Write-Host { return }
        Write-Step 'hello'
        Write-Step -Level Warn 'careful'
        Write-Step -Level Error 'broken'
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] hello' } -Times 1 -Exactly
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] WARNING: careful' -and $ForegroundColor -eq 'Yellow' } -Times 1 -Exactly
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] ERROR: broken' -and $ForegroundColor -eq 'Red' } -Times 1 -Exactly
    }

    It 'Test-IsWindows and Test-IsSystem answer for this process' {
        Test-IsWindows | Should -Be ([System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT)
        if (-not (Test-IsWindows)) {
            Test-IsSystem | Should -BeFalse
        }
    }

    It 'Set-NetworkDefaults leaves TLS 1.2 usable (or the OS default) in this .NET' {
        Set-NetworkDefaults
        $protocol = [int][System.Net.ServicePointManager]::SecurityProtocol
        ($protocol -eq 0 -or ($protocol -band 3072) -eq 3072) | Should -BeTrue
    }
}
