# Installing Miniforge when no Python is usable: where it goes, the exact silent installer command lines
# (constructor's NSIS options on Windows, "-b -p" for the .sh installer), the order download -> SHA256 ->
# signature -> run, and what a failed or half-finished install leads to.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    . (Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'Get-InstallPathProblem' {
    It 'accepts <Path> on <Os>' -ForEach @(
        @{ Path = 'C:\Users\alice\AppData\Local\pybootstrap\conda'; Os = 'windows' }
        @{ Path = 'C:\ProgramData\pybootstrap\conda'; Os = 'windows' }
        @{ Path = '/home/alice/.local/share/pybootstrap/conda'; Os = 'linux' }
    ) {
        Get-InstallPathProblem -Path $Path -Os $Os | Should -BeNullOrEmpty
    }

    It 'refuses <Path> on <Os>: <Problem>' -ForEach @(
        @{ Path = 'C:\Users\First Last\AppData\Local\pybootstrap\conda'; Os = 'windows'; Problem = 'it contains a space*' }
        @{ Path = '/home/a b/conda'; Os = 'macos'; Problem = 'it contains a space*' }
        @{ Path = '\\server\share\conda'; Os = 'windows'; Problem = 'it must be an absolute path on a local drive*' }
        @{ Path = 'conda'; Os = 'windows'; Problem = 'it must be an absolute path on a local drive*' }
        @{ Path = 'C:\Users\J(1)\conda'; Os = 'windows'; Problem = 'it contains non-ASCII characters or one of*' }
        @{ Path = 'C:\pyb%TEMP%\conda'; Os = 'windows'; Problem = 'it contains non-ASCII characters or one of*' }
        @{ Path = ('C:\' + ('a' * 60)); Os = 'windows'; Problem = 'it is longer than 60 characters*' }
    ) {
        Get-InstallPathProblem -Path $Path -Os $Os | Should -BeLike $Problem
    }

    It 'refuses a non-ASCII Windows path' {
        Get-InstallPathProblem -Path ('C:\Users\J' + [char]0x00F6 + 'rg\conda') -Os windows | Should -BeLike 'it contains non-ASCII*'
    }
}

Describe 'Get-CondaPrefixes' {
    It 'is -Prefix alone when given, else <home>\conda, then %SystemDrive%\pybootstrap\conda on Windows' {
        @(Get-CondaPrefixes -Prefix 'D:\mf\' -HomePath 'C:\h' -Os windows) | Should -Be @('D:\mf')
        $saved = $env:SystemDrive
        $env:SystemDrive = 'C:'
        try {
            @(Get-CondaPrefixes -HomePath 'C:\Users\First Last\AppData\Local\pybootstrap' -Os windows) | Should -Be @('C:\Users\First Last\AppData\Local\pybootstrap\conda', 'C:\pybootstrap\conda')
        } finally {
            $env:SystemDrive = $saved
        }
        @(Get-CondaPrefixes -HomePath '/home/a/.local/share/pybootstrap' -Os linux) | Should -Be @('/home/a/.local/share/pybootstrap/conda')
    }
}

Describe 'Install-Miniforge' {
    BeforeEach {
        $script:steps = New-Object -TypeName 'System.Collections.Generic.List[string]'
        $script:work = Join-Path $TestDrive ('tmp-' + [guid]::NewGuid().ToString('N'))
        $script:prefix = Join-Path $TestDrive ('conda-' + [guid]::NewGuid().ToString('N'))
        $script:windows = @{ Os = 'windows'; Arch = 'x86_64'; Major = 10 }
        $script:linux = @{ Os = 'linux'; Arch = 'x86_64'; Major = 0 }
        Mock Write-Host { return }
        Mock Get-VerifiedFile { $script:steps.Add('verified ' + $Url + ' sha=' + $ExpectedHash + ' signed=' + [bool]$Signed); Join-PathPart $Directory 'installer' }
        Mock Invoke-Process { $script:steps.Add('run ' + $FilePath + ' [' + $ArgumentString + '][' + ($ArgumentList -join ' ') + ']'); 0 }
        Mock Get-PythonInfo { [pscustomobject]@{ Path = $Path; Executable = $Path; Version = [version]'3.12.10'; Problem = $null } }
    }

    It 'on Windows: the pinned, signed installer, run silently per user with "/D=" last and unquoted' {
        $prefix = 'C:\Users\alice\AppData\Local\pybootstrap\conda'
        $info = Install-Miniforge -Platform $script:windows -Prefixes @($prefix) -TempDirectory 'C:\t'
        $pinned = (Get-BootstrapConstants).Installers['windows-x86_64']
        $script:steps | Should -Be @(
            ('verified ' + $pinned.Url + ' sha=' + $pinned.Sha256 + ' signed=True'),
            ('run C:\t\installer [/InstallationType=JustMe /RegisterPython=0 /AddToPath=0 /NoRegistry=1 /NoShortcuts=1 /S /D=' + $prefix + '][]'))
        $info.Executable | Should -Be ($prefix + '\python.exe')
    }

    It 'as SYSTEM installs for all users' {
        $null = Install-Miniforge -Platform $script:windows -Prefixes @('C:\ProgramData\pybootstrap\conda') -TempDirectory 'C:\t' -AllUsers $true
        $script:steps[1] | Should -Be 'run C:\t\installer [/InstallationType=AllUsers /RegisterPython=0 /AddToPath=0 /NoRegistry=1 /NoShortcuts=1 /S /D=C:\ProgramData\pybootstrap\conda][]'
    }

    It 'on Windows ARM64 runs the x86_64 installer (emulated)' {
        $null = Install-Miniforge -Platform @{ Os = 'windows'; Arch = 'arm64'; Major = 10 } -Prefixes @('C:\pyb\conda') -TempDirectory 'C:\t'
        $script:steps[0] | Should -BeLike 'verified https://github.com/conda-forge/miniforge/releases/download/*-Windows-x86_64.exe sha=* signed=True'
    }

    It 'takes the next prefix when the first breaks the installer''s rules (a space in the profile path)' {
        $null = Install-Miniforge -Platform $script:windows -Prefixes @('C:\Users\First Last\pyb\conda', 'C:\pybootstrap\conda') -TempDirectory 'C:\t'
        $script:steps[1].EndsWith('/S /D=C:\pybootstrap\conda][]') | Should -BeTrue
    }

    It 'stops with exit code 8, downloading nothing, when no prefix is usable' {
        Get-ThrownExitCode { Install-Miniforge -Platform $script:windows -Prefixes @('C:\Users\First Last\conda') -TempDirectory 'C:\t' } | Should -Be 8
        Get-ThrownMessage { Install-Miniforge -Platform $script:windows -Prefixes @('C:\Users\First Last\conda') -TempDirectory 'C:\t' } | Should -BeLike 'Miniforge cannot go to C:\Users\First Last\conda: it contains a space*Give -Prefix*'
        Should -Invoke Get-VerifiedFile -Times 0 -Exactly
    }

    It 'on Linux: the .sh installer with bash, "-b -p <prefix>", checked by SHA256 only' {
        $info = Install-Miniforge -Platform $script:linux -Prefixes @($script:prefix) -TempDirectory $script:work
        $pinned = (Get-BootstrapConstants).Installers['linux-x86_64']
        $script:steps | Should -Be @(
            ('verified ' + $pinned.Url + ' sha= signed=False'),
            ('run bash [][' + (Join-PathPart $script:work 'installer') + ' -b -p ' + $script:prefix + ']'))
        $info.Executable | Should -Be (Join-PathPart $script:prefix 'bin/python3')
    }

    It 'uses -InstallerUrl and -InstallerSha256 instead of the pinned installer' {
        $null = Install-Miniforge -Platform $script:linux -Prefixes @($script:prefix) -TempDirectory $script:work -InstallerUrl 'https://mirror.corp/Miniforge3-Linux-x86_64.sh' -InstallerHash ('c' * 64)
        $script:steps[0] | Should -Be ('verified https://mirror.corp/Miniforge3-Linux-x86_64.sh sha=' + ('c' * 64) + ' signed=False')
    }

    It 'accepts exit code 3010 (restart needed) and fails with exit code 4 on another' {
        Mock Invoke-Process { 3010 }
        { Install-Miniforge -Platform $script:windows -Prefixes @('C:\pyb\conda') -TempDirectory 'C:\t' } | Should -Not -Throw
        Mock Invoke-Process { 1 }
        Get-ThrownExitCode { Install-Miniforge -Platform $script:windows -Prefixes @('C:\pyb\conda') -TempDirectory 'C:\t' } | Should -Be 4
        Get-ThrownMessage { Install-Miniforge -Platform $script:windows -Prefixes @('C:\pyb\conda') -TempDirectory 'C:\t' } | Should -BeLike 'The Miniforge installer failed (exit code 1). Antivirus*'
    }

    It 'fails with exit code 4 when the installer said yes but left no usable Python' {
        Mock Get-PythonInfo { [pscustomobject]@{ Path = $Path; Executable = $Path; Version = $null; Problem = 'did not run (exit code -1)' } }
        Get-ThrownExitCode { Install-Miniforge -Platform $script:linux -Prefixes @($script:prefix) -TempDirectory $script:work } | Should -Be 4
    }

    It 'moves a half-finished install aside (never deleting it) before installing again' {
        $null = New-Item -ItemType Directory -Path (Join-Path $script:prefix 'conda-meta') -Force
        Set-Content -LiteralPath (Join-Path $script:prefix '_conda') -Value 'x'
        Mock Move-Item { $script:steps.Add('aside ' + $LiteralPath + ' -> ' + $Destination) }
        $null = Install-Miniforge -Platform $script:linux -Prefixes @($script:prefix) -TempDirectory $script:work
        $script:steps[0] | Should -BeLike ('aside ' + $script:prefix + ' -> ' + $script:prefix + '.broken-*')
        $script:steps[1] | Should -BeLike 'verified *'
    }

    It 'refuses, with exit code 8 and nothing downloaded, a prefix that holds someone else''s files' {
        $null = New-Item -ItemType Directory -Path $script:prefix -Force
        Set-Content -LiteralPath (Join-Path $script:prefix 'notes.txt') -Value 'mine'
        Get-ThrownExitCode { Install-Miniforge -Platform $script:linux -Prefixes @($script:prefix) -TempDirectory $script:work } | Should -Be 8
        Should -Invoke Get-VerifiedFile -Times 0 -Exactly
        Test-Path -LiteralPath (Join-Path $script:prefix 'notes.txt') | Should -BeTrue
    }

    It 'stops with exit code 8 where there is no Miniforge for the machine' {
        Get-ThrownExitCode { Install-Miniforge -Platform @{ Os = 'linux'; Arch = 'riscv64'; Major = 0 } -Prefixes @($script:prefix) -TempDirectory $script:work } | Should -Be 8
    }
}

Describe 'The pinned installers' {
    It 'name Miniforge release files over HTTPS, and pin the Windows SHA256' {
        $installers = (Get-BootstrapConstants).Installers
        foreach ($key in @('windows-x86_64', 'windows-arm64', 'linux-x86_64', 'linux-arm64', 'macos-x86_64', 'macos-arm64')) {
            $installers[$key].Url | Should -Match '^https://github\.com/conda-forge/miniforge/releases/download/[^/]+/Miniforge3-[^/]+\.(exe|sh)$'
        }
        $installers['windows-x86_64'].Sha256 | Should -Match '^[0-9a-f]{64}$'
    }
}
