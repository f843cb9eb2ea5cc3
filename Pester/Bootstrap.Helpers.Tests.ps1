# Pure helpers: text, paths, errors, termination, constants.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    . $script:ScriptPath
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'text helpers' {
    It 'joins Windows paths with exactly one backslash' {
        Join-WinPath -Path 'C:\a\' -ChildPath '\b\c' | Should -Be 'C:\a\b\c'
        Join-WinPath -Path 'C:\a' -ChildPath 'b' | Should -Be 'C:\a\b'
        Join-WinPath -Path '' -ChildPath 'b' | Should -Be 'b'
        Join-WinPath -Path '\\server\share' -ChildPath 'x.exe' | Should -Be '\\server\share\x.exe'
        Join-WinPath -Path '/tmp/home' -ChildPath 'tool\venv' | Should -Be '/tmp/home/tool/venv'
    }

    It 'reads <Value> as <Expected>' -ForEach @(
        @{ Value = '1'; Expected = $true },
        @{ Value = 'TRUE'; Expected = $true },
        @{ Value = ' yes '; Expected = $true },
        @{ Value = 'on'; Expected = $true },
        @{ Value = '0'; Expected = $false },
        @{ Value = 'false'; Expected = $false },
        @{ Value = ''; Expected = $false }
    ) {
        ConvertTo-BoolSetting -Value $Value | Should -Be $Expected
    }

    It 'puts the .sha256 sidecar before a query string' {
        Get-SidecarUrl -Url 'https://h/a.exe' | Should -Be 'https://h/a.exe.sha256'
        Get-SidecarUrl -Url 'https://h/a.exe?sig=x&se=1' | Should -Be 'https://h/a.exe.sha256?sig=x&se=1'
        Get-SidecarUrl -Url 'https://h/a.exe#frag' | Should -Be 'https://h/a.exe.sha256#frag'
    }

    It 'sorts wheel files by version, not by text' {
        $names = @('pybootstrap-0.9.0-py3-none-any.whl', 'pybootstrap-0.10.0-py3-none-any.whl', 'pybootstrap-1-py3-none-any.whl')
        ConvertTo-WheelVersion -Name 'pybootstrap-0.10.0-py3-none-any.whl' | Should -Be ([version]'0.10.0')
        ConvertTo-WheelVersion -Name 'pybootstrap-1-py3-none-any.whl' | Should -Be ([version]'1.0')
        ConvertTo-WheelVersion -Name 'not-a-wheel' | Should -Be ([version]'0.0')
        ($names | Sort-Object -Descending -Property { ConvertTo-WheelVersion -Name $_ })[0] | Should -Be 'pybootstrap-1-py3-none-any.whl'
        ($names | Sort-Object -Descending -Property { ConvertTo-WheelVersion -Name $_ })[1] | Should -Be 'pybootstrap-0.10.0-py3-none-any.whl'
    }

    It 'reads switches, booleans and null as booleans' {
        ConvertTo-BoolSetting -Value $null | Should -BeFalse
        ConvertTo-BoolSetting -Value $true | Should -BeTrue
        ConvertTo-BoolSetting -Value ([System.Management.Automation.SwitchParameter]::new($true)) | Should -BeTrue
        ConvertTo-BoolSetting -Value ([System.Management.Automation.SwitchParameter]::new($false)) | Should -BeFalse
    }

    It 'tells URLs and SHA256 values apart from other text' {
        Test-IsUrl -Value 'https://example.invalid/a.exe' | Should -BeTrue
        Test-IsUrl -Value 'HTTP://example.invalid/a.exe' | Should -BeTrue
        Test-IsUrl -Value '\\server\share\a.exe' | Should -BeFalse
        Test-IsUrl -Value 'C:\a.exe' | Should -BeFalse
        Test-Sha256Format -Value ('a' * 64) | Should -BeTrue
        Test-Sha256Format -Value ('A1' * 32) | Should -BeTrue
        Test-Sha256Format -Value ('a' * 63) | Should -BeFalse
        Test-Sha256Format -Value ('g' * 64) | Should -BeFalse
    }

    It 'quotes <Argument> as <Expected>' -ForEach @(
        @{ Argument = 'plain'; Expected = 'plain' },
        @{ Argument = ''; Expected = '""' },
        @{ Argument = 'two words'; Expected = '"two words"' },
        @{ Argument = 'C:\Program Files\'; Expected = '"C:\Program Files\\"' },
        @{ Argument = 'say "hi"'; Expected = '"say \"hi\""' },
        @{ Argument = 'a\\"b c'; Expected = '"a\\\\\"b c"' }
    ) {
        ConvertTo-QuotedArgument -Argument $Argument | Should -BeExactly $Expected
    }

    It 'builds and formats command lines' {
        ConvertTo-CommandLine -ArgumentList @('-m', 'pip', 'install', 'C:\My Source') | Should -BeExactly '-m pip install "C:\My Source"'
        Format-CommandLine -FilePath 'C:\Py 3\python.exe' -ArgumentList @('-V') | Should -BeExactly '"C:\Py 3\python.exe" -V'
        Format-CommandLine -FilePath 'python.exe' | Should -BeExactly 'python.exe'
    }

    It 'reads the SHA256 from a .sha256 file' {
        $hash = 'ab' * 32
        ConvertFrom-Sha256File -Text ($hash + '  Miniforge3-Windows-x86_64.exe') | Should -Be $hash
        ConvertFrom-Sha256File -Text ($hash.ToUpperInvariant() + "`r`n") | Should -Be $hash
        ConvertFrom-Sha256File -Text 'not a hash' | Should -BeNullOrEmpty
        ConvertFrom-Sha256File -Text ('c' * 65) | Should -BeNullOrEmpty
    }

    It 'finds an HTTP status code inside an exception chain' {
        $inner = [pscustomobject]@{ Response = [pscustomobject]@{ StatusCode = 404 }; InnerException = $null }
        $outer = [pscustomobject]@{ Response = $null; InnerException = $inner }
        Get-HttpStatusCode -Exception $outer | Should -Be 404
        Get-HttpStatusCode -Exception (New-Object -TypeName System.Exception -ArgumentList 'no response') | Should -BeNullOrEmpty
        Get-HttpStatusCode -Exception $null | Should -BeNullOrEmpty
    }

    It 'recognises WindowsApps aliases' {
        Test-IsWindowsAppsPath -Path 'C:\Users\a\AppData\Local\Microsoft\WindowsApps\python.exe' | Should -BeTrue
        Test-IsWindowsAppsPath -Path 'C:\Python312\python.exe' | Should -BeFalse
    }

    It 'parses versions from registry tags and text' {
        ConvertTo-VersionOrZero -Text '3.12' | Should -Be ([version]'3.12.0')
        ConvertTo-VersionOrZero -Text '3.11.4' | Should -Be ([version]'3.11.4')
        ConvertTo-VersionOrZero -Text '3.10-32' | Should -Be ([version]'3.10.0')
        ConvertTo-VersionOrZero -Text 'ContinuumAnalytics' | Should -Be ([version]'0.0')
    }
}

Describe 'secrets and errors' {
    AfterEach {
        Clear-LogState
    }

    It 'redacts passwords in URLs, token query values and authorization headers' {
        ConvertTo-RedactedText -Text 'proxy http://alice:s3cret@proxy.corp:8080' | Should -BeExactly 'proxy http://alice:***@proxy.corp:8080'
        ConvertTo-RedactedText -Text 'https://h/x.tar.gz?token=abc123&b=1' | Should -BeExactly 'https://h/x.tar.gz?token=***&b=1'
        ConvertTo-RedactedText -Text 'Authorization: Bearer abc.def' | Should -BeExactly 'Authorization: Bearer ***'
        ConvertTo-RedactedText -Text $null | Should -BeExactly ''
    }

    It 'redacts registered secrets until the log state is cleared' {
        Add-LogSecret -Secret 'hunter2'
        ConvertTo-RedactedText -Text 'password is hunter2' | Should -BeExactly 'password is ***'
        Clear-LogState
        ConvertTo-RedactedText -Text 'password is hunter2' | Should -BeExactly 'password is hunter2'
    }

    It 'carries the contract exit code in thrown errors' {
        Get-ThrownExitCode { throw (New-BootstrapError -Message 'no network' -ExitCode 6) } | Should -Be 6
        Get-ThrownExitCode { throw 'plain failure' } | Should -Be 1
        $inner = New-BootstrapError -Message 'inner' -ExitCode 9
        $outer = New-Object -TypeName System.Exception -ArgumentList 'outer', $inner
        Get-ErrorExitCode -ErrorRecord $outer | Should -Be 9
        (New-BootstrapError -Message 'text' -ExitCode 4).Message | Should -Be 'text'
    }

    It 'sets $LASTEXITCODE and returns instead of exiting under iex' {
        $global:LASTEXITCODE = 0
        Exit-Bootstrap -Code 9 -ViaIex $true
        $LASTEXITCODE | Should -Be 9
        Exit-Bootstrap -Code @('noise', 4) -ViaIex $true
        $LASTEXITCODE | Should -Be 4
        Exit-Bootstrap -Code 'not a number' -ViaIex $true
        $LASTEXITCODE | Should -Be 1
        $global:LASTEXITCODE = 0
    }
}

Describe 'constants and tables' {
    It 'pins each distribution to an HTTPS URL, its file name and a SHA256' {
        $constants = Get-BootstrapConstants
        foreach ($name in @('Miniconda', 'Miniforge')) {
            $pin = $constants[$name]
            $pin.Url | Should -Match '^https://'
            $pin.Url.EndsWith('/' + $pin.FileName) | Should -BeTrue
            Test-Sha256Format -Value $pin.Sha256 | Should -BeTrue
        }
        $constants.Miniconda.SignerPattern | Should -Be 'Anaconda'
        $constants.PybootstrapArchiveUrl | Should -Match '^https://.*\.(tar\.gz|zip|whl)$'
        $constants.DefaultPythonVersion | Should -Be '3.12'
    }

    It 'maps every parameter to a PYBOOTSTRAP_* variable once' {
        $map = Get-ParameterEnvironmentMap
        @($map.Values | Where-Object { $_ -notmatch '^PYBOOTSTRAP_[A-Z0-9_]+$' }).Count | Should -Be 0
        @($map.Values | Select-Object -Unique).Count | Should -Be $map.Count
        $map['HomePath'] | Should -Be 'PYBOOTSTRAP_HOME'
        $map['PythonVersion'] | Should -Be 'PYBOOTSTRAP_CONDA_PYTHON_VERSION'
    }
}

Describe 'install paths' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'accepts <Path>' -ForEach @(
        @{ Path = 'C:\pybootstrap\conda' },
        @{ Path = 'C:\Users\ann\AppData\Local\pybootstrap\conda' },
        @{ Path = 'D:\x_y-z.1\conda' }
    ) {
        Get-InstallPathProblem -Path $Path | Should -BeNullOrEmpty
    }

    It 'rejects <Path> because <Because>' -ForEach @(
        @{ Path = 'C:\Users\First Last\AppData\Local\pybootstrap\conda'; Because = 'space' },
        @{ Path = 'C:\a(b)\conda'; Because = 'one of the characters' },
        @{ Path = 'C:\50%\conda'; Because = 'one of the characters' },
        @{ Path = 'C:\a=b\conda'; Because = 'one of the characters' },
        @{ Path = ('C:\' + [char]0x00E9 + 'lise\conda'); Because = 'non-ASCII' },
        @{ Path = 'conda'; Because = 'absolute path' },
        @{ Path = '\\server\share\conda'; Because = 'absolute path' },
        @{ Path = ('C:\' + ('a' * 70)); Because = 'longer than' },
        @{ Path = 'C:\a|b'; Because = 'not allowed' },
        @{ Path = ''; Because = 'empty' }
    ) {
        Get-InstallPathProblem -Path $Path | Should -Match $Because
    }

    It 'uses PYBOOTSTRAP_HOME, else LOCALAPPDATA, else ProgramData for SYSTEM' {
        $backup = Set-ProcessEnvironment -Values @{ LOCALAPPDATA = 'C:\Users\ann\AppData\Local'; ProgramData = 'C:\ProgramData' }
        try {
            Resolve-HomePath -HomePath 'D:\pyb\' -IsSystem $false | Should -Be 'D:\pyb'
            Resolve-HomePath -HomePath '' -IsSystem $false | Should -Be 'C:\Users\ann\AppData\Local\pybootstrap'
            Resolve-HomePath -HomePath '' -IsSystem $true | Should -Be 'C:\ProgramData\pybootstrap'
        }
        finally {
            Restore-ProcessEnvironment -Backup $backup
        }
    }

    It 'puts the conda prefix under the home, else on the system drive' {
        $backup = Set-ProcessEnvironment -Values @{ SystemDrive = 'C:' }
        try {
            Resolve-CondaPrefix -Prefix '' -HomePath 'C:\Users\ann\AppData\Local\pybootstrap' | Should -Be 'C:\Users\ann\AppData\Local\pybootstrap\conda'
            Resolve-CondaPrefix -Prefix '' -HomePath 'C:\Users\Ann Lee\AppData\Local\pybootstrap' | Should -Be 'C:\pybootstrap\conda'
            Resolve-CondaPrefix -Prefix 'E:\tools\conda\' -HomePath 'C:\x' | Should -Be 'E:\tools\conda'
        }
        finally {
            Restore-ProcessEnvironment -Backup $backup
        }
    }

    It 'refuses an unusable -Prefix with exit code 8' {
        Get-ThrownExitCode { Resolve-CondaPrefix -Prefix 'C:\Program Files\conda' -HomePath 'C:\x' } | Should -Be 8
        Get-ThrownMessage { Resolve-CondaPrefix -Prefix 'C:\Program Files\conda' -HomePath 'C:\x' } | Should -Match 'space'
    }

    It 'writes the log under <home>\logs, or under TEMP for a dry run' {
        Get-DefaultLogPath -HomePath 'C:\h' -DryRun $false | Should -Match '^C:\\h\\logs\\bootstrap-\d{8}-\d{6}\.log$'
        $dry = Get-DefaultLogPath -HomePath 'C:\h' -DryRun $true
        $dry | Should -Match 'pybootstrap-dry-run-bootstrap-\d{8}-\d{6}\.log$'
        $dry.StartsWith('C:\h') | Should -BeFalse
    }
}
