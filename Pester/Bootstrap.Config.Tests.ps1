# Resolve-BootstrapConfig: defaults, usage errors (exit code 2), sources; Write-ConfigSummary.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    . $script:ScriptPath
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'Resolve-BootstrapConfig' {
    BeforeAll {
        Mock Write-Log { return }
        Mock Test-IsSystem { $false }
        $script:Backup = @{}
        foreach ($name in @((Get-ParameterEnvironmentMap).Values) + @('LOCALAPPDATA', 'SystemDrive')) {
            $script:Backup[$name] = [System.Environment]::GetEnvironmentVariable($name)
        }
    }

    BeforeEach {
        foreach ($name in @((Get-ParameterEnvironmentMap).Values)) {
            Remove-Item -LiteralPath ('Env:' + $name) -ErrorAction SilentlyContinue
        }
        $env:LOCALAPPDATA = 'C:\Users\ann\AppData\Local'
        $env:SystemDrive = 'C:'
    }

    AfterAll {
        Restore-ProcessEnvironment -Backup $script:Backup
    }

    It 'fills in every default' {
        $config = Resolve-BootstrapConfig -Settings @{}
        $config.Distribution | Should -Be 'Miniconda'
        $config.PythonVersion | Should -Be '3.12'
        $config.CondaChannel | Should -Be 'conda-forge'
        $config.DownloadRetries | Should -Be 4
        $config.HomePath | Should -Be 'C:\Users\ann\AppData\Local\pybootstrap'
        $config.Prefix | Should -Be 'C:\Users\ann\AppData\Local\pybootstrap\conda'
        $config.ToolVenv | Should -Be 'C:\Users\ann\AppData\Local\pybootstrap\tool\venv'
        $config.ToolPython | Should -Be 'C:\Users\ann\AppData\Local\pybootstrap\tool\venv\Scripts\python.exe'
        $config.StateFile | Should -Be 'C:\Users\ann\AppData\Local\pybootstrap\bootstrap-state.json'
        $config.LogPath | Should -Match '^C:\\Users\\ann\\AppData\\Local\\pybootstrap\\logs\\bootstrap-'
        $config.DryRun | Should -BeFalse
        $config.AcceptAnacondaTos | Should -BeFalse
        @($config.PybootstrapArgs).Count | Should -Be 0
    }

    It 'normalises values and keeps what was given' {
        $config = Resolve-BootstrapConfig -Settings @{
            Distribution = 'miniforge'
            PythonVersion = 'base'
            InstallerSha256 = ('AB' * 32)
            DownloadRetries = '0'
            DryRun = $true
            PybootstrapArgs = @('--torch', '2.5.1')
        }
        $config.Distribution | Should -BeExactly 'Miniforge'
        $config.PythonVersion | Should -Be 'base'
        $config.InstallerSha256 | Should -BeExactly ('ab' * 32)
        $config.DownloadRetries | Should -Be 0
        $config.DryRun | Should -BeTrue
        ($config.PybootstrapArgs -join ' ') | Should -Be '--torch 2.5.1'
    }

    It 'drops a literal -- and gives comma lists back to pybootstrap as one argument' {
        $config = Resolve-BootstrapConfig -Settings @{
            PybootstrapArgs = @('--', '--packages', @('torch', 'torchvision'), '--torch', '2.5.1')
        }
        @($config.PybootstrapArgs) | Should -Be @('--packages', 'torch,torchvision', '--torch', '2.5.1')
    }

    It 'gives exit code 2 for <Case>' -ForEach @(
        @{ Case = 'an unknown distribution'; Settings = @{ Distribution = 'Anaconda' }; Text = 'Miniconda or Miniforge' },
        @{ Case = 'a Python older than 3.9'; Settings = @{ PythonVersion = '3.8' }; Text = '3.9 or newer' },
        @{ Case = 'a malformed Python version'; Settings = @{ PythonVersion = 'latest' }; Text = 'X.Y' },
        @{ Case = 'a malformed SHA256'; Settings = @{ InstallerSha256 = 'abc' }; Text = '64 hexadecimal' },
        @{ Case = 'a malformed source SHA256'; Settings = @{ SourceSha256 = 'xyz' }; Text = '64 hexadecimal' },
        @{ Case = '-Proxy with -NoProxy'; Settings = @{ Proxy = 'http://p:8080'; NoProxy = $true }; Text = 'together' },
        @{ Case = 'a proxy that is not a URL'; Settings = @{ Proxy = 'ftp://p:21' }; Text = 'http://' },
        @{ Case = 'too many retries'; Settings = @{ DownloadRetries = '99' }; Text = '0 to 20' },
        @{ Case = 'the defaults channel without ToS'; Settings = @{ CondaChannel = 'defaults' }; Text = 'AcceptAnacondaTos' },
        @{ Case = 'both installer URL forms'; Settings = @{ InstallerUrl = 'https://a/x.exe'; InstallerBaseUrl = 'https://b' }; Text = 'not both' },
        @{ Case = 'an invalid signer pattern'; Settings = @{ InstallerSigner = '([' }; Text = 'regular expression' }
    ) {
        $settings = $Settings
        Get-ThrownExitCode { Resolve-BootstrapConfig -Settings $settings } | Should -Be 2
        Get-ThrownMessage { Resolve-BootstrapConfig -Settings $settings } | Should -Match ([regex]::Escape($Text))
    }

    It 'accepts the defaults channel when the ToS are accepted explicitly' {
        $config = Resolve-BootstrapConfig -Settings @{ CondaChannel = 'defaults'; AcceptAnacondaTos = $true }
        $config.CondaChannel | Should -Be 'defaults'
        $config.AcceptAnacondaTos | Should -BeTrue
    }

    It 'records where each setting came from' {
        $env:PYBOOTSTRAP_DISTRIBUTION = 'Miniforge'
        $config = Resolve-BootstrapConfig -Settings @{ Distribution = 'Miniforge'; Prefix = 'C:\pyb\conda' } -BoundNames @('Prefix')
        $config.Sources['Prefix'] | Should -Be 'parameter'
        $config.Sources['Distribution'] | Should -Be 'environment (PYBOOTSTRAP_DISTRIBUTION)'
        $config.Sources['Proxy'] | Should -Be 'default'
    }

    It 'splits PYBOOTSTRAP_ARGS when no pass-through arguments were given' {
        $env:PYBOOTSTRAP_ARGS = ' --variant cpu  --no-gpu '
        $config = Resolve-BootstrapConfig -Settings @{ PybootstrapArgs = @() }
        ($config.PybootstrapArgs -join '|') | Should -Be '--variant|cpu|--no-gpu'
    }

    It 'passes --verbose on when the script was given -Verbose' {
        (Resolve-BootstrapConfig -Settings @{} -BoundNames @('Verbose')).Verbose | Should -BeTrue
        (Resolve-BootstrapConfig -Settings @{} -BoundNames @()).Verbose | Should -BeFalse
    }

    It 'uses %ProgramData% as the home when running as SYSTEM' {
        Mock Test-IsSystem { $true }
        $backup = Set-ProcessEnvironment -Values @{ ProgramData = 'C:\ProgramData' }
        try {
            $config = Resolve-BootstrapConfig -Settings @{}
            $config.IsSystem | Should -BeTrue
            $config.HomePath | Should -Be 'C:\ProgramData\pybootstrap'
            $config.Prefix | Should -Be 'C:\ProgramData\pybootstrap\conda'
        }
        finally {
            Restore-ProcessEnvironment -Backup $backup
        }
    }

    It 'refuses an explicit prefix with a space (exit code 8)' {
        Get-ThrownExitCode { Resolve-BootstrapConfig -Settings @{ Prefix = 'C:\My Tools\conda' } } | Should -Be 8
    }
}

Describe 'Write-ConfigSummary' {
    BeforeAll {
        Mock Write-Log { return }
        Mock Test-IsAdmin { $false }
        Mock Test-IsInteractive { $false }
    }

    It 'logs the context and every setting with its source, secrets redacted by Write-Log' {
        $config = New-TestConfig -Override @{
            Proxy = 'http://user:pw@proxy:8080'
            Sources = [ordered]@{ Proxy = 'parameter'; Distribution = 'default'; PybootstrapArgs = 'default' }
            PybootstrapArgs = @('--torch', '2.5.1')
        }
        Write-ConfigSummary -Config $config
        Should -Invoke Write-Log -ParameterFilter { $Message -match '^bootstrap\.ps1 .* running as user' } -Times 1 -Exactly
        Should -Invoke Write-Log -ParameterFilter { $Message -match 'Proxy = http://user:pw@proxy:8080  \[parameter\]' } -Times 1 -Exactly
        Should -Invoke Write-Log -ParameterFilter { $Message -match 'PybootstrapArgs = --torch 2\.5\.1' } -Times 1 -Exactly
    }

    It 'says SYSTEM when running as SYSTEM' {
        Write-ConfigSummary -Config (New-TestConfig -Override @{ IsSystem = $true })
        Should -Invoke Write-Log -ParameterFilter { $Message -match 'running as SYSTEM' } -Times 1 -Exactly
    }
}
