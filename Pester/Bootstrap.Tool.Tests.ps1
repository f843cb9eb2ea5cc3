# The tool environment: where pybootstrap comes from (never a name), reuse, the order fetch -> verify ->
# replace, the exact pip command, and what is left on disk when a step fails.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    . (Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'Resolve-PybootstrapSource' {
    BeforeAll {
        $script:checkout = Join-Path $TestDrive 'checkout'
        $null = New-Item -ItemType Directory -Path (Join-Path $script:checkout 'pybootstrap') -Force
        Set-Content -LiteralPath (Join-Path $script:checkout 'pybootstrap/__init__.py') -Value @('"""pybootstrap."""', '', '__version__ = "0.3.1"')
        $script:wheel = Join-Path $TestDrive 'pybootstrap-0.2.0-py3-none-any.whl'
        Set-Content -LiteralPath $script:wheel -Value 'zip'
    }

    It 'is the checkout the script sits in, with its version, when nothing is given' {
        $source = Resolve-PybootstrapSource -ScriptDirectory $script:checkout
        $source.Kind | Should -Be 'Folder'
        $source.Location | Should -Be $script:checkout
        $source.Version | Should -Be '0.3.1'
    }

    It 'is the pinned release wheel (with its pinned SHA256) under iex, where there is no script folder' {
        $constants = Get-BootstrapConstants
        $source = Resolve-PybootstrapSource -ScriptDirectory ''
        $source.Kind | Should -Be 'Url'
        $source.Location | Should -Be $constants.ReleaseUrl
        $source.Sha256 | Should -Be $constants.ReleaseSha256
        $source.Version | Should -Be $constants.PybootstrapVersion
    }

    It 'reads the version from a <Kind> file name: <Location>' -ForEach @(
        @{ Kind = 'Url'; Location = 'https://x.example/d/pybootstrap-1.2.3-py3-none-any.whl?sig=a'; Version = '1.2.3' }
        @{ Kind = 'Url'; Location = 'https://x.example/pybootstrap-0.10.0rc1.tar.gz'; Version = '0.10.0rc1' }
        @{ Kind = 'Url'; Location = 'https://x.example/pybootstrap-0.4.zip'; Version = '0.4' }
        @{ Kind = 'Url'; Location = 'https://x.example/snapshot.whl'; Version = $null }
    ) {
        $source = Resolve-PybootstrapSource -Source $Location -ExpectedHash ('d' * 64)
        $source.Kind | Should -Be $Kind
        $source.Version | Should -Be $Version
        $source.Sha256 | Should -Be ('d' * 64)
    }

    It 'takes a local file and a folder; a missing path is exit code 8' {
        (Resolve-PybootstrapSource -Source $script:wheel).Kind | Should -Be 'File'
        (Resolve-PybootstrapSource -Source $script:wheel).Version | Should -Be '0.2.0'
        (Resolve-PybootstrapSource -Source $script:checkout -ScriptDirectory $TestDrive).Kind | Should -Be 'Folder'
        Get-ThrownExitCode { Resolve-PybootstrapSource -Source (Join-Path $TestDrive 'missing.whl') } | Should -Be 8
    }
}

Describe 'Install-ToolEnvironment' {
    BeforeEach {
        $script:steps = New-Object -TypeName 'System.Collections.Generic.List[string]'
        $script:homePath = Join-Path $TestDrive ('home-' + [guid]::NewGuid().ToString('N'))
        $script:venv = Join-PathPart $script:homePath 'tool/venv'
        $script:python = Join-PathPart $script:venv 'bin/python'
        $script:source = [pscustomobject]@{ Kind = 'Url'; Location = 'https://example.test/pybootstrap-0.1.0-py3-none-any.whl'; Sha256 = ''; Version = '0.1.0' }
        $script:installed = $null
        $script:next = '0.1.0'
        Mock Write-Host { return }
        Mock Get-VerifiedFile { $script:steps.Add('verified ' + $Url); Join-PathPart $Directory 'pybootstrap-0.1.0-py3-none-any.whl' }
        Mock Get-ToolVersion { $script:steps.Add('version?'); $script:installed }
        Mock Invoke-Process {
            $script:steps.Add('run ' + $FilePath + ' ' + ($ArgumentList -join ' '))
            if ($ArgumentList[1] -eq 'venv') {
                $null = New-Item -ItemType Directory -Path (Join-PathPart $ArgumentList[2] 'bin') -Force
                Set-Content -LiteralPath (Join-PathPart $ArgumentList[2] 'pyvenv.cfg') -Value 'home = /usr/bin'
                Set-Content -LiteralPath (Join-PathPart $ArgumentList[2] 'bin/python') -Value ''
            }
            if ($ArgumentList[1] -eq 'pip') { $script:installed = $script:next }
            0
        }
        $script:install = @{ BasePython = '/usr/bin/python3.12'; HomePath = $script:homePath; Source = $script:source; TempDirectory = '/t'; Os = 'linux' }
    }

    It 'creates the venv, installs the verified file with pip (never the name), checks the version and records the source' {
        Install-ToolEnvironment @script:install | Should -Be $script:python
        $script:steps | Should -Be @(
            'verified https://example.test/pybootstrap-0.1.0-py3-none-any.whl',
            ('run /usr/bin/python3.12 -m venv ' + $script:venv),
            ('run ' + $script:python + ' -m pip install --disable-pip-version-check --no-input /t/pybootstrap-0.1.0-py3-none-any.whl'),
            'version?')
        (Get-Content -LiteralPath (Join-PathPart $script:venv 'pybootstrap-source.txt') -Raw -Encoding UTF8).Trim() | Should -Be 'https://example.test/pybootstrap-0.1.0-py3-none-any.whl|'
    }

    It 'takes pybootstrap''s dependencies only from -DependencySource when it is given' {
        $null = Install-ToolEnvironment @script:install -DependencySource '\\server\share\wheels'
        $script:steps[2] | Should -Be ('run ' + $script:python + ' -m pip install --disable-pip-version-check --no-input --no-index --find-links \\server\share\wheels /t/pybootstrap-0.1.0-py3-none-any.whl')
    }

    It 'installs a source folder as it is, without a download' {
        $script:install['Source'] = [pscustomobject]@{ Kind = 'Folder'; Location = '/src/pybootstrap'; Sha256 = ''; Version = '0.1.0' }
        $null = Install-ToolEnvironment @script:install
        Should -Invoke Get-VerifiedFile -Times 0 -Exactly
        $script:steps[1] | Should -Be ('run ' + $script:python + ' -m pip install --disable-pip-version-check --no-input /src/pybootstrap')
    }

    It 'reuses an environment that holds that version from that source: no download, no pip' {
        $null = Install-ToolEnvironment @script:install
        $script:steps.Clear()
        Install-ToolEnvironment @script:install | Should -Be $script:python
        $script:steps | Should -Be @('version?')
        Should -Invoke Write-Host -ParameterFilter { $Object -like '*Reusing the tool environment*(pybootstrap 0.1.0).' } -Times 1 -Exactly
    }

    It 'rebuilds it, fetching and verifying first, for <Case>' -ForEach @(
        @{ Case = 'another SHA256'; Change = @{ Sha256 = ('e' * 64) } }
        @{ Case = 'another version'; Change = @{ Version = '0.2.0'; Location = 'https://example.test/pybootstrap-0.2.0-py3-none-any.whl' } }
        @{ Case = 'a pybootstrap that no longer runs'; Change = @{} }
    ) {
        $null = Install-ToolEnvironment @script:install
        $other = [pscustomobject]@{ Kind = 'Url'; Location = $script:source.Location; Sha256 = ''; Version = '0.1.0' }
        foreach ($key in $Change.Keys) { $other.$key = $Change[$key] }
        if ($Change.Count -eq 0) { $script:installed = $null }
        $script:next = $other.Version
        $script:steps.Clear()
        $script:install['Source'] = $other
        $null = Install-ToolEnvironment @script:install
        ($script:steps | Where-Object { $_ -like 'verified *' -or $_ -like '* -m venv *' }) | Should -Be @(('verified ' + $other.Location), ('run /usr/bin/python3.12 -m venv ' + $script:venv))
        (Get-Content -LiteralPath (Join-PathPart $script:venv 'pybootstrap-source.txt') -Raw -Encoding UTF8).Trim() | Should -Be ($other.Location + '|' + $other.Sha256)
    }

    It 'verifies the download before touching the existing environment: a bad file leaves it as it was' {
        $null = Install-ToolEnvironment @script:install
        $marker = Join-PathPart $script:venv 'pybootstrap-source.txt'
        $before = Get-Content -LiteralPath $marker -Raw
        Mock Get-VerifiedFile { throw (New-BootstrapError -ExitCode 9 -Message 'SHA256 mismatch') }
        $script:install['Source'] = [pscustomobject]@{ Kind = 'Url'; Location = $script:source.Location; Sha256 = ('0' * 64); Version = '0.1.0' }
        Get-ThrownExitCode { Install-ToolEnvironment @script:install } | Should -Be 9
        Get-Content -LiteralPath $marker -Raw | Should -Be $before
        Test-Path -LiteralPath (Join-PathPart $script:venv 'pyvenv.cfg') | Should -BeTrue
    }

    It 'stops with exit code 4 when <Step> fails' -ForEach @(
        @{ Step = 'venv' }
        @{ Step = 'pip' }
    ) {
        Mock Invoke-Process { $script:steps.Add('run ' + ($ArgumentList -join ' ')); if ($ArgumentList[1] -eq $Step) { 1 } else { 0 } }
        Get-ThrownExitCode { Install-ToolEnvironment @script:install } | Should -Be 4
        Test-Path -LiteralPath (Join-PathPart $script:venv 'pybootstrap-source.txt') | Should -BeFalse
    }

    It 'stops with exit code 4 when the installed pybootstrap is not the expected version' {
        Mock Invoke-Process { if ($ArgumentList[1] -eq 'pip') { $script:installed = '0.0.9' }; 0 }
        Get-ThrownMessage { Install-ToolEnvironment @script:install } | Should -Be ('pybootstrap 0.1.0 was expected in ' + $script:venv + ', found "0.0.9".')
        Test-Path -LiteralPath (Join-PathPart $script:venv 'pybootstrap-source.txt') | Should -BeFalse
    }

    It 'refuses with exit code 8 to replace a folder that is not a virtual environment' {
        $null = New-Item -ItemType Directory -Path $script:venv -Force
        Set-Content -LiteralPath (Join-PathPart $script:venv 'important.txt') -Value 'keep me'
        Get-ThrownExitCode { Install-ToolEnvironment @script:install } | Should -Be 8
        Test-Path -LiteralPath (Join-PathPart $script:venv 'important.txt') | Should -BeTrue
    }

    It 'uses Scripts\python.exe on Windows' {
        $script:install['Os'] = 'windows'
        $python = Install-ToolEnvironment @script:install
        $python | Should -Be (Join-PathPart $script:venv 'Scripts\python.exe')
        Should -Invoke Invoke-Process -ParameterFilter { $FilePath -eq (Join-PathPart $script:venv 'Scripts\python.exe') -and $ArgumentList[1] -eq 'pip' } -Times 1 -Exactly
    }
}

Describe 'Get-ToolVersion' {
    It 'is $null without a python, and the version pybootstrap prints otherwise' {
        Get-ToolVersion -Python (Join-Path $TestDrive 'no/python') | Should -BeNullOrEmpty
        $fake = Join-Path $TestDrive 'python'
        Set-Content -LiteralPath $fake -Value ''
        Mock Invoke-ProcessCapture { [pscustomobject]@{ ExitCode = 0; Output = "0.1.0`n" } }
        Get-ToolVersion -Python $fake | Should -Be '0.1.0'
        Should -Invoke Invoke-ProcessCapture -ParameterFilter { ($ArgumentList -join ' ') -eq '-I -c import pybootstrap; print(pybootstrap.__version__)' } -Times 1 -Exactly
        Mock Invoke-ProcessCapture { [pscustomobject]@{ ExitCode = 1; Output = 'ModuleNotFoundError' } }
        Get-ToolVersion -Python $fake | Should -BeNullOrEmpty
    }
}
