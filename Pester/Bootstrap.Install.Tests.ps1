# Installing Miniconda / Miniforge: pins, mirrors, installer arguments, verification order,
# partial installs, .condarc, the Anaconda ToS opt-in, and the Python environment.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    . $script:ScriptPath
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'installer selection' {
    It 'uses the pinned <Name> build by default' -ForEach @(
        @{ Name = 'Miniconda' },
        @{ Name = 'Miniforge' }
    ) {
        $pin = (Get-BootstrapConstants)[$Name]
        $info = Get-DistributionInfo -Config (New-TestConfig -Override @{ Distribution = $Name })
        $info.Name | Should -Be $Name
        $info.Url | Should -Be $pin.Url
        $info.Sha256 | Should -Be $pin.Sha256
        $info.FileName | Should -Be $pin.FileName
        $info.SignerPattern | Should -Be $pin.SignerPattern
    }

    It 'keeps the pinned file name and SHA256 on an internal mirror (URL or share)' {
        $pin = (Get-BootstrapConstants).Miniforge
        $web = Get-DistributionInfo -Config (New-TestConfig -Override @{ InstallerBaseUrl = 'https://artifacts.corp/miniforge/' })
        $web.Url | Should -Be ('https://artifacts.corp/miniforge/' + $pin.FileName)
        $web.Sha256 | Should -Be $pin.Sha256
        $share = Get-DistributionInfo -Config (New-TestConfig -Override @{ InstallerBaseUrl = '\\files\installers' })
        $share.Url | Should -Be ('\\files\installers\' + $pin.FileName)
    }

    It 'takes a full installer URL with the SHA256 and signer given' {
        $info = Get-DistributionInfo -Config (New-TestConfig -Override @{
                InstallerUrl = 'https://mirror.corp/x/Miniforge3-25.1.0-0-Windows-x86_64.exe?sig=abc'
                InstallerSha256 = ('e' * 64)
                InstallerSigner = 'CN=Corp'
            })
        $info.FileName | Should -Be 'Miniforge3-25.1.0-0-Windows-x86_64.exe'
        $info.Sha256 | Should -Be ('e' * 64)
        $info.SignerPattern | Should -Be 'CN=Corp'
        (Get-DistributionInfo -Config (New-TestConfig -Override @{ InstallerUrl = 'https://mirror.corp/x.exe' })).Sha256 | Should -BeNullOrEmpty
    }

    It 'builds the silent NSIS command line with /D= last and unquoted' {
        $justMe = Get-CondaInstallerArguments -Prefix 'C:\pyb\conda' -AllUsers $false
        $justMe | Should -BeExactly '/InstallationType=JustMe /RegisterPython=0 /AddToPath=0 /NoRegistry=1 /NoShortcuts=1 /S /D=C:\pyb\conda'
        Get-CondaInstallerArguments -Prefix 'C:\ProgramData\pybootstrap\conda' -AllUsers $true | Should -Match '^/InstallationType=AllUsers .* /D=C:\\ProgramData\\pybootstrap\\conda$'
    }
}

Describe 'conda prefix' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'recognises a complete install and its conda executable' {
        Mock Test-PathExists { $true }
        Test-CondaInstallation -Prefix 'C:\pyb\conda' | Should -BeTrue
        Get-CondaExecutable -Prefix 'C:\pyb\conda' | Should -Be 'C:\pyb\conda\Scripts\conda.exe'
        Mock Test-PathExists { $false } -ParameterFilter { $Path -like '*conda-meta\history' -or $Path -like '*Scripts\conda.exe' }
        Test-CondaInstallation -Prefix 'C:\pyb\conda' | Should -BeFalse
        Get-CondaExecutable -Prefix 'C:\pyb\conda' | Should -Be 'C:\pyb\conda\condabin\conda.bat'
    }

    It 'classifies the prefix as <Expected>' -ForEach @(
        @{ Expected = 'Missing'; Exists = $false; Names = @(); Complete = $false },
        @{ Expected = 'Empty'; Exists = $true; Names = @(); Complete = $false },
        @{ Expected = 'Installed'; Exists = $true; Names = @('python.exe', 'conda-meta'); Complete = $true },
        @{ Expected = 'Partial'; Exists = $true; Names = @('_conda.exe', 'pkgs'); Complete = $false },
        @{ Expected = 'Occupied'; Exists = $true; Names = @('notes.txt'); Complete = $false }
    ) {
        $exists = $Exists
        $names = $Names
        $complete = $Complete
        Mock Test-PathExists { $exists }
        Mock Get-DirectoryEntryNames { $names }
        Mock Test-CondaInstallation { $complete }
        Get-CondaPrefixStatus -Prefix 'C:\pyb\conda' | Should -Be $Expected
    }

    It 'moves a partial install aside instead of deleting it' {
        $prefix = Join-Path -Path $TestDrive -ChildPath 'conda'
        $null = New-Item -ItemType Directory -Path (Join-Path -Path $prefix -ChildPath 'pkgs')
        $moved = Move-PartialInstall -Prefix $prefix
        $moved | Should -Match 'conda\.broken-\d{8}-\d{6}$'
        Test-Path -LiteralPath $prefix | Should -BeFalse
        Test-Path -LiteralPath (Join-Path -Path $moved -ChildPath 'pkgs') | Should -BeTrue
    }

    It 'writes a .condarc that never names Anaconda''s default channels' {
        $content = Get-CondaRcContent -Channel 'conda-forge'
        $content | Should -Match '(?m)^channels:\r?\n  - conda-forge\r?$'
        $content | Should -Match '(?m)^  - https://conda\.anaconda\.org/conda-forge\r?$'
        $content | Should -Not -Match 'repo\.anaconda\.com'
        Get-CondaRcContent -Channel 'https://mirror.corp/conda-forge' | Should -Match '(?m)^  - https://mirror\.corp/conda-forge\r?$'
    }

    It 'creates the Python environment with --override-channels' {
        $arguments = @(Get-CondaCreateArguments -EnvironmentPrefix 'C:\pyb\conda\envs\py312' -PythonVersion '3.12' -Channel 'conda-forge')
        ($arguments -join ' ') | Should -BeExactly 'create --yes --quiet --prefix C:\pyb\conda\envs\py312 --override-channels --channel conda-forge python=3.12 pip'
    }

    It 'accepts the Anaconda ToS for main, r and msys2 only when called' {
        Mock Invoke-NativeCommand { [pscustomobject]@{ ExitCode = 0; Output = @() } }
        Invoke-CondaTosAcceptance -CondaExe 'C:\pyb\conda\Scripts\conda.exe'
        Should -Invoke Invoke-NativeCommand -Times 3 -Exactly
        foreach ($channel in @('main', 'r', 'msys2')) {
            Should -Invoke Invoke-NativeCommand -Times 1 -Exactly -ParameterFilter {
                ($ArgumentList -join ' ') -eq ('tos accept --override-channels --channel https://repo.anaconda.com/pkgs/' + $channel + ' --system')
            }
        }
    }
}

Describe 'Install-CondaDistribution' {
    BeforeAll {
        Mock Write-Log { return }
        Mock Save-RemoteFile { return }
        Mock Get-Sha256FromSidecar { 'f' * 64 }
        Mock Assert-FileHash { $script:order += 'hash' }
        Mock Assert-FileSignature { $script:order += 'signature' }
        Mock Move-PartialInstall { 'moved' }
        $script:Info = [pscustomobject]@{
            Name = 'Miniforge'; Version = '26.3.2-3'; FileName = 'Miniforge3.exe'
            Url = 'https://example.invalid/Miniforge3.exe'; Sha256 = ('a' * 64); SignerPattern = ''
        }
    }

    BeforeEach {
        $script:order = @()
    }

    It 'downloads, checks the SHA256, then the signature, then runs the installer' {
        Mock Start-Installer { $script:order += 'install'; 0 }
        Mock Test-CondaInstallation { $true }
        Install-CondaDistribution -Info $script:Info -Config (New-TestConfig) -ProxySettings $null
        ($script:order -join ',') | Should -Be 'hash,signature,install'
        Should -Invoke Save-RemoteFile -ParameterFilter { $Url -eq 'https://example.invalid/Miniforge3.exe' -and $OutFile -eq 'C:\Temp\pybootstrap-test\Miniforge3.exe' } -Times 1 -Exactly
        Should -Invoke Assert-FileHash -ParameterFilter { $ExpectedHash -eq ('a' * 64) } -Times 1 -Exactly
        Should -Invoke Start-Installer -ParameterFilter { $ArgumentString -match ' /S /D=C:\\pyb\\conda$' } -Times 1 -Exactly
        Should -Invoke Get-Sha256FromSidecar -Times 0 -Exactly
    }

    It 'never starts the installer when the SHA256 does not match (exit code 9)' {
        Mock Assert-FileHash { throw (New-BootstrapError -ExitCode 9 -Message 'SHA256 mismatch') }
        Mock Start-Installer { 0 }
        Get-ThrownExitCode { Install-CondaDistribution -Info $script:Info -Config (New-TestConfig) -ProxySettings $null } | Should -Be 9
        Should -Invoke Start-Installer -Times 0 -Exactly
        Should -Invoke Assert-FileSignature -Times 0 -Exactly
    }

    It 'reads the SHA256 from the sidecar when none is pinned' {
        Mock Start-Installer { 0 }
        Mock Test-CondaInstallation { $true }
        $info = [pscustomobject]@{ Name = 'Miniforge'; Version = 'x'; FileName = 'M.exe'; Url = 'https://mirror.corp/M.exe'; Sha256 = ''; SignerPattern = '' }
        Install-CondaDistribution -Info $info -Config (New-TestConfig) -ProxySettings $null
        Should -Invoke Get-Sha256FromSidecar -ParameterFilter { $Url -eq 'https://mirror.corp/M.exe.sha256' } -Times 1 -Exactly
        Should -Invoke Assert-FileHash -ParameterFilter { $ExpectedHash -eq ('f' * 64) } -Times 1 -Exactly
    }

    It 'retries once after a partial install, then fails with exit code 4' {
        Mock Start-Installer { 1 }
        Mock Test-CondaInstallation { $false }
        Mock Get-CondaPrefixStatus { 'Partial' }
        $message = Get-ThrownMessage { Install-CondaDistribution -Info $script:Info -Config (New-TestConfig) -ProxySettings $null }
        $message | Should -Match 'exit code 1'
        $message | Should -Match 'Antivirus'
        Should -Invoke Start-Installer -Times 2 -Exactly
        Should -Invoke Move-PartialInstall -Times 1 -Exactly
        Get-ThrownExitCode { Install-CondaDistribution -Info $script:Info -Config (New-TestConfig) -ProxySettings $null } | Should -Be 4
    }

    It 'accepts exit code 3010 (restart requested) when the files are there' {
        Mock Start-Installer { 3010 }
        Mock Test-CondaInstallation { $true }
        Install-CondaDistribution -Info $script:Info -Config (New-TestConfig) -ProxySettings $null
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Warn' -and $Message -match '3010' } -Times 1 -Exactly
    }

    It 'installs for all users when running as SYSTEM' {
        Mock Start-Installer { 0 }
        Mock Test-CondaInstallation { $true }
        Install-CondaDistribution -Info $script:Info -Config (New-TestConfig -Override @{ IsSystem = $true; Prefix = 'C:\ProgramData\pybootstrap\conda' }) -ProxySettings $null
        Should -Invoke Start-Installer -ParameterFilter { $ArgumentString -match '^/InstallationType=AllUsers ' } -Times 1 -Exactly
    }
}

Describe 'Install-PythonRuntime' {
    BeforeAll {
        Mock Write-Log { return }
        Mock Get-NativeArchitecture { 'x86_64' }
        Mock Get-WindowsVersion { [version]'10.0.22631' }
        Mock Install-CondaDistribution { return }
        Mock Get-CondaExecutable { 'C:\pyb\conda\Scripts\conda.exe' }
        Mock Write-Utf8File { return }
        Mock Invoke-CondaTosAcceptance { return }
        Mock Invoke-NativeCommand { [pscustomobject]@{ ExitCode = 0; Output = @() } }
        Mock Test-PathExists { $false }
        Mock Invoke-PythonProbe { New-ProbeResult -Executable 'C:\pyb\conda\envs\py312\python.exe' }
        Mock Move-PartialInstall { 'moved' }
    }

    It 'installs Miniforge, writes the .condarc and creates the Python environment' {
        Mock Get-CondaPrefixStatus { 'Missing' }
        $runtime = Install-PythonRuntime -Config (New-TestConfig) -ProxySettings $null
        $runtime.Python.Executable | Should -Be 'C:\pyb\conda\envs\py312\python.exe'
        $runtime.Python.Source | Should -Be 'own-install'
        $runtime.Conda.distribution | Should -Be 'Miniforge'
        Should -Invoke Install-CondaDistribution -Times 1 -Exactly
        Should -Invoke Write-Utf8File -ParameterFilter { $Path -eq 'C:\pyb\conda\.condarc' } -Times 1 -Exactly
        Should -Invoke Invoke-NativeCommand -ParameterFilter { $FilePath -eq 'C:\pyb\conda\Scripts\conda.exe' -and ($ArgumentList -join ' ') -match '^create .*--override-channels --channel conda-forge python=3\.12 pip$' } -Times 1 -Exactly
        Should -Invoke Invoke-CondaTosAcceptance -Times 0 -Exactly
    }

    It 'keeps Miniconda on conda-forge and never accepts the ToS by itself' {
        Mock Get-CondaPrefixStatus { 'Missing' }
        $null = Install-PythonRuntime -Config (New-TestConfig -Override @{ Distribution = 'Miniconda' }) -ProxySettings $null
        Should -Invoke Invoke-CondaTosAcceptance -Times 0 -Exactly
        Should -Invoke Write-Utf8File -ParameterFilter { $Path -like '*\.condarc' } -Times 1 -Exactly
        Should -Invoke Invoke-NativeCommand -ParameterFilter { $ArgumentList -contains '--override-channels' } -Times 1 -Exactly
    }

    It 'accepts the ToS only with -AcceptAnacondaTos' {
        Mock Get-CondaPrefixStatus { 'Installed' }
        $null = Install-PythonRuntime -Config (New-TestConfig -Override @{ Distribution = 'Miniconda'; AcceptAnacondaTos = $true }) -ProxySettings $null
        Should -Invoke Invoke-CondaTosAcceptance -Times 1 -Exactly
        Should -Invoke Write-Utf8File -Times 0 -Exactly
        Should -Invoke Install-CondaDistribution -Times 0 -Exactly
    }

    It 'uses the installer''s own Python for -PythonVersion base' {
        Mock Get-CondaPrefixStatus { 'Missing' }
        Mock Invoke-PythonProbe { New-ProbeResult -Executable 'C:\pyb\conda\python.exe' -Version '3.11.4' }
        $runtime = Install-PythonRuntime -Config (New-TestConfig -Override @{ PythonVersion = 'base' }) -ProxySettings $null
        $runtime.Python.Executable | Should -Be 'C:\pyb\conda\python.exe'
        Should -Invoke Invoke-NativeCommand -Times 0 -Exactly
    }

    It 'moves a partial install aside and installs again' {
        Mock Get-CondaPrefixStatus { 'Partial' }
        $null = Install-PythonRuntime -Config (New-TestConfig) -ProxySettings $null
        Should -Invoke Move-PartialInstall -Times 1 -Exactly
        Should -Invoke Install-CondaDistribution -Times 1 -Exactly
    }

    It 'stops with exit code <Code> when <Case>' -ForEach @(
        @{ Case = 'the prefix holds other files'; Code = 8; Status = 'Occupied'; CreateExit = 0; Arch = 'x86_64' },
        @{ Case = 'conda cannot create the environment'; Code = 4; Status = 'Installed'; CreateExit = 1; Arch = 'x86_64' },
        @{ Case = 'Windows 10 on ARM64 cannot run the x64 installer'; Code = 8; Status = 'Missing'; CreateExit = 0; Arch = 'arm64' }
    ) {
        $status = $Status
        $createExit = $CreateExit
        $architecture = $Arch
        Mock Get-CondaPrefixStatus { $status }
        Mock Invoke-NativeCommand { [pscustomobject]@{ ExitCode = $createExit; Output = @() } }
        Mock Get-NativeArchitecture { $architecture }
        Mock Get-WindowsVersion { [version]'10.0.19045' }
        Get-ThrownExitCode { Install-PythonRuntime -Config (New-TestConfig) -ProxySettings $null } | Should -Be $Code
    }

    It 'only describes the plan in a dry run' {
        Mock Get-CondaPrefixStatus { 'Missing' }
        $runtime = Install-PythonRuntime -Config (New-TestConfig -Override @{ DryRun = $true }) -ProxySettings $null
        $runtime.Planned | Should -BeTrue
        $runtime.Python.Executable | Should -Be 'C:\pyb\conda\envs\py312\python.exe'
        Should -Invoke Install-CondaDistribution -Times 0 -Exactly
        Should -Invoke Write-Utf8File -Times 0 -Exactly
        Should -Invoke Invoke-NativeCommand -Times 0 -Exactly
        Should -Invoke Write-Log -ParameterFilter { $Message -match '^\[dry-run\] would download https://' } -Times 1 -Exactly
    }
}

Describe 'Start-Installer' {
    It 'returns the exit code of the program it runs' {
        $exe = Get-HostExecutable
        Start-Installer -FilePath $exe -ArgumentString '-NoProfile -NonInteractive -Command "exit 3"' -TimeoutSeconds 120 | Should -Be 3
    }

    It 'stops a program that runs past the time limit (exit code 4)' {
        $exe = Get-HostExecutable
        Get-ThrownExitCode { Start-Installer -FilePath $exe -ArgumentString '-NoProfile -NonInteractive -Command "Start-Sleep -Seconds 60"' -TimeoutSeconds 2 } | Should -Be 4
    }
}
