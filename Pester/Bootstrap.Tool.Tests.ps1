# The tool environment, pybootstrap's source, the state file and the hand-off.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    . $script:ScriptPath
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'Resolve-PybootstrapSource' {
    It 'uses the folder of bootstrap.ps1 when it is a checkout' {
        Mock Test-PathExists { $true }
        $source = Resolve-PybootstrapSource -Source '' -SourceHash '' -ScriptDirectory 'C:\src\pybootstrap'
        $source.Kind | Should -Be 'Folder'
        $source.Location | Should -Be 'C:\src\pybootstrap'
    }

    It 'falls back to the pinned release archive under "irm | iex"' {
        Mock Test-PathExists { $false }
        $constants = Get-BootstrapConstants
        $source = Resolve-PybootstrapSource -Source '' -SourceHash '' -ScriptDirectory ''
        $source.Kind | Should -Be 'Archive'
        $source.IsUrl | Should -BeTrue
        $source.Location | Should -Be $constants.PybootstrapArchiveUrl
        $source.Sha256 | Should -Be $constants.PybootstrapArchiveSha256
        (Resolve-PybootstrapSource -Source '' -SourceHash ('1' * 64) -ScriptDirectory '').Sha256 | Should -Be ('1' * 64)
    }

    It 'accepts a source folder, a wheel folder and an archive on a share' {
        $checkout = Join-Path -Path $TestDrive -ChildPath 'checkout'
        $null = New-Item -ItemType Directory -Path $checkout
        Set-Content -LiteralPath (Join-Path -Path $checkout -ChildPath 'pyproject.toml') -Value '[project]'
        (Resolve-PybootstrapSource -Source $checkout).Kind | Should -Be 'Folder'

        $wheels = Join-Path -Path $TestDrive -ChildPath 'wheels'
        $null = New-Item -ItemType Directory -Path $wheels
        Set-Content -LiteralPath (Join-Path -Path $wheels -ChildPath 'pybootstrap-0.1.0-py3-none-any.whl') -Value 'x'
        Set-Content -LiteralPath (Join-Path -Path $wheels -ChildPath 'requests-2.32.3-py3-none-any.whl') -Value 'x'
        $wheelhouse = Resolve-PybootstrapSource -Source $wheels
        $wheelhouse.Kind | Should -Be 'Wheelhouse'
        $wheelhouse.Wheel | Should -Match 'pybootstrap-0\.1\.0-py3-none-any\.whl$'

        $archive = Join-Path -Path $TestDrive -ChildPath 'pybootstrap-0.1.0.tar.gz'
        Set-Content -LiteralPath $archive -Value 'x'
        $local = Resolve-PybootstrapSource -Source $archive -SourceHash ('2' * 64)
        $local.Kind | Should -Be 'Archive'
        $local.IsUrl | Should -BeFalse
        $local.Sha256 | Should -Be ('2' * 64)
    }

    It 'takes an archive URL and refuses anything that is not an archive' {
        (Resolve-PybootstrapSource -Source 'https://files.corp/pybootstrap-0.1.0.zip?token=x').IsUrl | Should -BeTrue
        Get-ThrownExitCode { Resolve-PybootstrapSource -Source 'https://pypi.org/simple/pybootstrap/' } | Should -Be 2
        Get-ThrownExitCode { Resolve-PybootstrapSource -Source (Join-Path -Path $TestDrive -ChildPath 'no-such-folder') } | Should -Be 8
        $empty = Join-Path -Path $TestDrive -ChildPath 'empty-folder'
        $null = New-Item -ItemType Directory -Path $empty
        Get-ThrownExitCode { Resolve-PybootstrapSource -Source $empty } | Should -Be 8
    }
}

Describe 'pip arguments and the source path' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'installs a <Kind> by path, never by name' -ForEach @(
        @{ Kind = 'Folder'; Location = 'C:\src\pybootstrap'; LocalPath = 'C:\src\pybootstrap'; IsUrl = $false; Expected = '-m pip install --disable-pip-version-check --no-input --upgrade C:\src\pybootstrap' },
        @{ Kind = 'Wheelhouse'; Location = '\\files\pyb'; LocalPath = '\\files\pyb\pybootstrap-0.1.0-py3-none-any.whl'; IsUrl = $false; Expected = '-m pip install --disable-pip-version-check --no-input --upgrade --find-links \\files\pyb \\files\pyb\pybootstrap-0.1.0-py3-none-any.whl' },
        @{ Kind = 'Archive'; Location = 'https://h/pybootstrap-0.1.0.tar.gz'; LocalPath = 'C:\Temp\p\pybootstrap-0.1.0.tar.gz'; IsUrl = $true; Expected = '-m pip install --disable-pip-version-check --no-input --upgrade C:\Temp\p\pybootstrap-0.1.0.tar.gz' }
    ) {
        $source = [pscustomobject]@{ Kind = $Kind; Location = $Location; IsUrl = $IsUrl }
        $arguments = @(Get-PipInstallArguments -Source $source -LocalPath $LocalPath)
        ($arguments -join ' ') | Should -BeExactly $Expected
        $arguments | Should -Not -Contain 'pybootstrap'
    }

    It 'adds --no-index offline' {
        $source = [pscustomobject]@{ Kind = 'Wheelhouse'; Location = 'D:\w'; IsUrl = $false }
        @(Get-PipInstallArguments -Source $source -LocalPath 'D:\w\pybootstrap-0.1.0-py3-none-any.whl' -Offline $true) | Should -Contain '--no-index'
    }

    It 'downloads an archive URL and checks its SHA256' {
        Mock Save-RemoteFile { return }
        Mock Assert-FileHash { return }
        Mock Get-Sha256FromSidecar { '9' * 64 }
        $source = [pscustomobject]@{ Kind = 'Archive'; Location = 'https://h/pybootstrap-0.1.0.tar.gz'; IsUrl = $true; Sha256 = ('3' * 64); Wheel = $null }
        Get-PybootstrapSourcePath -Source $source -Config (New-TestConfig) -ProxySettings $null | Should -Be 'C:\Temp\pybootstrap-test\pybootstrap-0.1.0.tar.gz'
        Should -Invoke Assert-FileHash -ParameterFilter { $ExpectedHash -eq ('3' * 64) } -Times 1 -Exactly
        Should -Invoke Get-Sha256FromSidecar -Times 0 -Exactly
        $source.Sha256 = ''
        $null = Get-PybootstrapSourcePath -Source $source -Config (New-TestConfig) -ProxySettings $null
        Should -Invoke Get-Sha256FromSidecar -ParameterFilter { $Url -eq 'https://h/pybootstrap-0.1.0.tar.gz.sha256' } -Times 1 -Exactly
    }

    It 'uses folders as they are and checks a local archive only when a SHA256 is given' {
        Mock Assert-FileHash { return }
        Get-PybootstrapSourcePath -Source ([pscustomobject]@{ Kind = 'Folder'; Location = 'C:\src' }) -Config (New-TestConfig) -ProxySettings $null | Should -Be 'C:\src'
        Get-PybootstrapSourcePath -Source ([pscustomobject]@{ Kind = 'Wheelhouse'; Location = 'D:\w'; Wheel = 'D:\w\p.whl' }) -Config (New-TestConfig) -ProxySettings $null | Should -Be 'D:\w\p.whl'
        $local = [pscustomobject]@{ Kind = 'Archive'; Location = 'D:\p.zip'; IsUrl = $false; Sha256 = '' }
        Get-PybootstrapSourcePath -Source $local -Config (New-TestConfig) -ProxySettings $null | Should -Be 'D:\p.zip'
        Should -Invoke Assert-FileHash -Times 0 -Exactly
        $local.Sha256 = ('4' * 64)
        $null = Get-PybootstrapSourcePath -Source $local -Config (New-TestConfig) -ProxySettings $null
        Should -Invoke Assert-FileHash -Times 1 -Exactly
    }
}

Describe 'the tool environment' {
    BeforeAll {
        Mock Write-Log { return }
        $script:Python = New-UsablePython -Executable 'C:\Python312\python.exe'
        $script:ArchiveSource = [pscustomobject]@{ Kind = 'Archive'; Location = 'https://h/p.tar.gz'; IsUrl = $true; Sha256 = ('5' * 64); Wheel = $null; Origin = 'x' }
        $script:SameState = [pscustomobject]@{ tool = [pscustomobject]@{ base_python = 'C:\Python312\python.exe'; source = 'https://h/p.tar.gz'; source_sha256 = ('5' * 64) } }
    }

    It 'checks that pybootstrap imports in the tool environment' {
        Mock Test-PathExists { $true }
        Mock Invoke-ProcessCapture { [pscustomobject]@{ ExitCode = 0; StdOut = ''; StdErr = ''; TimedOut = $false } }
        Test-ToolEnvironment -Python 'C:\h\tool\venv\Scripts\python.exe' | Should -BeTrue
        Should -Invoke Invoke-ProcessCapture -ParameterFilter { ($ArgumentList -join ' ') -eq '-c import pybootstrap' } -Times 1 -Exactly
        Mock Invoke-ProcessCapture { [pscustomobject]@{ ExitCode = 1; StdOut = ''; StdErr = 'ModuleNotFoundError'; TimedOut = $false } }
        Test-ToolEnvironment -Python 'C:\h\tool\venv\Scripts\python.exe' | Should -BeFalse
        Mock Test-PathExists { $false }
        Test-ToolEnvironment -Python 'C:\h\tool\venv\Scripts\python.exe' | Should -BeFalse
    }

    It 'reuses a tool environment built from the same archive and Python only' {
        Test-ToolReuse -State $script:SameState -Source $script:ArchiveSource -BasePython 'C:\Python312\python.exe' | Should -BeTrue
        Test-ToolReuse -State $script:SameState -Source $script:ArchiveSource -BasePython 'C:\Python313\python.exe' | Should -BeFalse
        Test-ToolReuse -State $null -Source $script:ArchiveSource -BasePython 'C:\Python312\python.exe' | Should -BeFalse
        $newer = [pscustomobject]@{ Kind = 'Archive'; Location = 'https://h/p.tar.gz'; IsUrl = $true; Sha256 = ('6' * 64) }
        Test-ToolReuse -State $script:SameState -Source $newer -BasePython 'C:\Python312\python.exe' | Should -BeFalse
        $folder = [pscustomobject]@{ Kind = 'Folder'; Location = 'https://h/p.tar.gz' }
        Test-ToolReuse -State $script:SameState -Source $folder -BasePython 'C:\Python312\python.exe' | Should -BeFalse
    }

    It 'deletes only a folder that is its own tool environment' {
        $venv = Join-Path -Path (Join-Path -Path $TestDrive -ChildPath 'tool') -ChildPath 'venv'
        $null = New-Item -ItemType Directory -Path $venv -Force
        Set-Content -LiteralPath (Join-Path -Path $venv -ChildPath 'pyvenv.cfg') -Value 'home = C:\Python312'
        Remove-ToolEnvironment -Path $venv
        Test-Path -LiteralPath $venv | Should -BeFalse

        $null = New-Item -ItemType Directory -Path $venv -Force
        Set-Content -LiteralPath (Join-Path -Path $venv -ChildPath 'important.txt') -Value 'keep me'
        Get-ThrownExitCode { Remove-ToolEnvironment -Path $venv } | Should -Be 8
        Test-Path -LiteralPath (Join-Path -Path $venv -ChildPath 'important.txt') | Should -BeTrue
        Get-ThrownExitCode { Remove-ToolEnvironment -Path $TestDrive } | Should -Be 8
    }

    It 'creates the venv with the found Python and pip-installs pybootstrap from its source' {
        Mock Resolve-PybootstrapSource { $script:ArchiveSource }
        Mock Test-PathExists { $false }
        Mock Remove-ToolEnvironment { return }
        Mock Get-PybootstrapSourcePath { 'C:\Temp\p.tar.gz' }
        Mock Invoke-NativeCommand { [pscustomobject]@{ ExitCode = 0; Output = @() } }
        Mock Test-ToolEnvironment { $true }
        $config = New-TestConfig
        $tool = Install-ToolEnvironment -Config $config -Python $script:Python -State $null -ProxySettings $null
        $tool.Ready | Should -BeTrue
        $tool.Python | Should -Be $config.ToolPython
        Should -Invoke Invoke-NativeCommand -ParameterFilter { $FilePath -eq 'C:\Python312\python.exe' -and ($ArgumentList -join ' ') -eq ('-m venv ' + $config.ToolVenv) } -Times 1 -Exactly
        Should -Invoke Invoke-NativeCommand -ParameterFilter { $FilePath -eq $config.ToolPython -and $ArgumentList[-1] -eq 'C:\Temp\p.tar.gz' -and $ArgumentList -contains 'pip' } -Times 1 -Exactly
    }

    It 'reuses a healthy tool environment built from the same source' {
        Mock Resolve-PybootstrapSource { $script:ArchiveSource }
        Mock Test-PathExists { $true }
        Mock Invoke-PythonProbe { New-ProbeResult -Executable 'C:\h\tool\venv\Scripts\python.exe' }
        Mock Test-ToolEnvironment { $true }
        Mock Invoke-NativeCommand { [pscustomobject]@{ ExitCode = 0; Output = @() } }
        $tool = Install-ToolEnvironment -Config (New-TestConfig) -Python $script:Python -State $script:SameState -ProxySettings $null
        $tool.Reused | Should -BeTrue
        Should -Invoke Invoke-NativeCommand -Times 0 -Exactly
    }

    It 'stops with exit code 4 when <Case> fails' -ForEach @(
        @{ Case = 'venv'; VenvExit = 1; PipExit = 0 },
        @{ Case = 'pip'; VenvExit = 0; PipExit = 1 }
    ) {
        $venvExit = $VenvExit
        $pipExit = $PipExit
        Mock Resolve-PybootstrapSource { $script:ArchiveSource }
        Mock Test-PathExists { $false }
        Mock Remove-ToolEnvironment { return }
        Mock Get-PybootstrapSourcePath { 'C:\Temp\p.tar.gz' }
        Mock Test-ToolEnvironment { $true }
        Mock Invoke-NativeCommand { [pscustomobject]@{ ExitCode = $pipExit; Output = @() } }
        Mock Invoke-NativeCommand { [pscustomobject]@{ ExitCode = $venvExit; Output = @() } } -ParameterFilter { $ArgumentList -contains 'venv' }
        Get-ThrownExitCode { Install-ToolEnvironment -Config (New-TestConfig) -Python $script:Python -State $null -ProxySettings $null } | Should -Be 4
    }

    It 'only describes the plan in a dry run' {
        Mock Resolve-PybootstrapSource { $script:ArchiveSource }
        Mock Test-PathExists { $false }
        Mock Remove-ToolEnvironment { return }
        Mock Get-PybootstrapSourcePath { 'C:\Temp\p.tar.gz' }
        Mock Invoke-NativeCommand { [pscustomobject]@{ ExitCode = 0; Output = @() } }
        $tool = Install-ToolEnvironment -Config (New-TestConfig -Override @{ DryRun = $true }) -Python $script:Python -State $null -ProxySettings $null
        $tool.Ready | Should -BeFalse
        Should -Invoke Invoke-NativeCommand -Times 0 -Exactly
        Should -Invoke Remove-ToolEnvironment -Times 0 -Exactly
        Should -Invoke Get-PybootstrapSourcePath -Times 0 -Exactly
        Should -Invoke Write-Log -ParameterFilter { $Message -match '^\[dry-run\] would install pybootstrap: .* -m pip install ' } -Times 1 -Exactly
    }
}

Describe 'state file' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'writes what was found and reads it back' {
        $path = Join-Path -Path $TestDrive -ChildPath 'home/bootstrap-state.json'
        $tool = [pscustomobject]@{ Venv = 'C:\h\tool\venv'; Python = 'C:\h\tool\venv\Scripts\python.exe'; Source = [pscustomobject]@{ Location = 'https://h/p.tar.gz'; Kind = 'Archive'; Sha256 = ('7' * 64) } }
        $conda = [pscustomobject]@{ distribution = 'Miniforge'; prefix = 'C:\pyb\conda' }
        $state = New-BootstrapState -Python (New-UsablePython -Source 'own-install') -Conda $conda -Tool $tool -PreviousState $null
        Write-BootstrapState -Path $path -State $state
        $read = Read-BootstrapState -Path $path
        $read.schema | Should -Be 'pybootstrap.bootstrap-state/1'
        $read.python.executable | Should -Be 'C:\Python312\python.exe'
        $read.python.source | Should -Be 'own-install'
        $read.conda.prefix | Should -Be 'C:\pyb\conda'
        $read.tool.base_python | Should -Be 'C:\Python312\python.exe'
        $read.tool.source_sha256 | Should -Be ('7' * 64)
        # Read the raw text: ConvertFrom-Json in PowerShell 7 turns ISO dates into [datetime].
        Get-Content -LiteralPath $path -Raw | Should -Match '"updated":\s*"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"'
        [System.IO.File]::ReadAllBytes($path)[0] | Should -Not -Be 0xEF
    }

    It 'keeps the earlier conda record when nothing was installed this time' {
        $previous = [pscustomobject]@{ conda = [pscustomobject]@{ distribution = 'Miniconda'; prefix = 'C:\old' } }
        $tool = [pscustomobject]@{ Venv = 'v'; Python = 'p'; Source = [pscustomobject]@{ Location = 'l'; Kind = 'Folder'; Sha256 = $null } }
        $state = New-BootstrapState -Python (New-UsablePython) -Conda $null -Tool $tool -PreviousState $previous
        $state['conda'].prefix | Should -Be 'C:\old'
    }

    It 'ignores a missing or corrupt state file' {
        Read-BootstrapState -Path (Join-Path -Path $TestDrive -ChildPath 'none.json') | Should -BeNullOrEmpty
        $bad = Join-Path -Path $TestDrive -ChildPath 'bad.json'
        Set-Content -LiteralPath $bad -Value '{ not json'
        Read-BootstrapState -Path $bad | Should -BeNullOrEmpty
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Warn' -and $Message -match 'unreadable state file' } -Times 1 -Exactly
    }
}

Describe 'hand-off to pybootstrap' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'runs "install" with the mapped flags and the pass-through arguments' {
        $config = New-TestConfig -Override @{ DryRun = $true; Offline = $true; Verbose = $true; PybootstrapArgs = @('--torch', '2.5.1', '--find-links', 'D:\wheels') }
        (@(Get-PybootstrapArguments -Config $config) -join ' ') | Should -BeExactly '-m pybootstrap install --dry-run --offline --verbose --torch 2.5.1 --find-links D:\wheels'
        (@(Get-PybootstrapArguments -Config (New-TestConfig)) -join ' ') | Should -BeExactly '-m pybootstrap install'
    }

    It 'returns the exit code of pybootstrap unchanged' {
        Mock Invoke-Pybootstrap { 5 }
        $tool = [pscustomobject]@{ Python = 'C:\h\tool\venv\Scripts\python.exe'; Ready = $true }
        Invoke-Handoff -Config (New-TestConfig -Override @{ PybootstrapArgs = @('--variant', 'cpu') }) -Tool $tool | Should -Be 5
        Should -Invoke Invoke-Pybootstrap -ParameterFilter { $FilePath -eq 'C:\h\tool\venv\Scripts\python.exe' -and ($ArgumentList -join ' ') -eq '-m pybootstrap install --variant cpu' } -Times 1 -Exactly
    }

    It 'prints the command and returns 0 in a dry run without a tool environment' {
        Mock Invoke-Pybootstrap { 5 }
        $tool = [pscustomobject]@{ Python = 'C:\h\tool\venv\Scripts\python.exe'; Ready = $false }
        Invoke-Handoff -Config (New-TestConfig -Override @{ DryRun = $true }) -Tool $tool | Should -Be 0
        Should -Invoke Invoke-Pybootstrap -Times 0 -Exactly
        Should -Invoke Write-Log -ParameterFilter { $Message -match '^\[dry-run\] would run: .*install --dry-run' } -Times 1 -Exactly
    }

    It 'passes a dry run on to pybootstrap when the tool environment exists' {
        Mock Invoke-Pybootstrap { 0 }
        $tool = [pscustomobject]@{ Python = 'C:\h\tool\venv\Scripts\python.exe'; Ready = $true }
        Invoke-Handoff -Config (New-TestConfig -Override @{ DryRun = $true }) -Tool $tool | Should -Be 0
        Should -Invoke Invoke-Pybootstrap -ParameterFilter { $ArgumentList -contains '--dry-run' } -Times 1 -Exactly
    }
}
