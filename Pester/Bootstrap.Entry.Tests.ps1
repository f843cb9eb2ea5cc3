# The whole run (Invoke-Bootstrap) with its steps mocked: order, hand-off, exit codes, what is left behind;
# and the three ways to start the script (iex, a script block, a file) in a child PowerShell.

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    . $script:ScriptPath
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'Invoke-Bootstrap' {
    BeforeEach {
        $script:calls = New-Object -TypeName 'System.Collections.Generic.List[string]'
        $script:homePath = Join-Path -Path $TestDrive -ChildPath ('home-' + [guid]::NewGuid().ToString('N'))
        $script:python = [pscustomobject]@{ Path = '/usr/bin/python3'; Executable = '/usr/bin/python3.12'; Version = [version]'3.12.4'; Problem = $null }
        $script:source = [pscustomobject]@{ Kind = 'Url'; Location = 'https://example.test/pybootstrap-0.1.0-py3-none-any.whl'; Sha256 = ''; Version = '0.1.0' }
        Mock Write-Host { return }
        Mock Get-LanguageModeProblem { $null }
        Mock Get-Platform { @{ Os = 'linux'; Arch = 'x86_64'; Major = 0 } }
        Mock Set-NetworkDefaults { $script:calls.Add('network') }
        Mock Test-IsSystem { $false }
        Mock Resolve-PybootstrapSource { $script:source }
        Mock Protect-MachineHome { $script:calls.Add('protect ' + $Path) }
        Mock Find-Python { $script:calls.Add('find'); $script:python }
        Mock Install-Miniforge { $script:calls.Add('miniforge'); [pscustomobject]@{ Executable = ($Prefixes[0] + '/bin/python3') } }
        Mock Install-ToolEnvironment {
            $script:calls.Add('tool ' + $BasePython + ' tmp-exists=' + (Test-Path -LiteralPath $TempDirectory))
            '/h/tool/venv/bin/python'
        }
        Mock Invoke-Process {
            $script:calls.Add('handoff ' + $FilePath + ' ' + ($ArgumentList -join ' ') + ' HOME=' + $env:PYBOOTSTRAP_HOME + ' PROXY=' + $env:HTTPS_PROXY)
            5
        }
        $script:settings = @{ HomePath = $script:homePath }
    }

    It 'finds Python, builds the tool environment, hands off the arguments unchanged and returns pybootstrap''s exit code' {
        $code = Invoke-Bootstrap -Settings $script:settings -PassThrough @('--', '--variant', 'cpu', '--packages', @('torch', 'torchvision'), '-q')
        $code | Should -Be 5
        $script:calls | Should -Be @(
            'network',
            'find',
            'tool /usr/bin/python3.12 tmp-exists=True',
            ('handoff /h/tool/venv/bin/python -m pybootstrap install --variant cpu --packages torch,torchvision -q HOME=' + $script:homePath + ' PROXY='))
        Should -Invoke Install-Miniforge -Times 0 -Exactly
        Should -Invoke Protect-MachineHome -Times 0 -Exactly
        Should -Invoke Find-Python -ParameterFilter { -not $OwnOnly } -Times 1 -Exactly
    }

    It 'leaves the session as it found it: PYBOOTSTRAP_HOME and the proxy back, the downloads folder gone' {
        $env:PYBOOTSTRAP_HOME = 'C:\caller\own'
        Remove-Item -LiteralPath Env:HTTPS_PROXY -ErrorAction SilentlyContinue
        try {
            $settings = @{ HomePath = $script:homePath; Proxy = 'http://user:secret@proxy.example:3128' }
            Invoke-Bootstrap -Settings $settings | Should -Be 5
            $script:calls[-1] | Should -BeLike ('handoff * HOME=' + $script:homePath + ' PROXY=http://user:secret@proxy.example:3128')
            $env:PYBOOTSTRAP_HOME | Should -Be 'C:\caller\own'
            Test-Path -LiteralPath Env:HTTPS_PROXY | Should -BeFalse
            @(Get-ChildItem -LiteralPath (Join-Path $script:homePath 'tmp') -Force) | Should -HaveCount 0
        } finally {
            Remove-Item -LiteralPath Env:PYBOOTSTRAP_HOME -ErrorAction SilentlyContinue
        }
    }

    It 'installs Miniforge only when no usable Python exists, and builds the tool environment with its Python' {
        Mock Find-Python { $script:calls.Add('find'); $null }
        Invoke-Bootstrap -Settings $script:settings | Should -Be 5
        $script:calls[1..3] | Should -Be @('find', 'miniforge', ('tool ' + (Join-PathPart $script:homePath 'conda') + '/bin/python3 tmp-exists=True'))
        Should -Invoke Install-Miniforge -ParameterFilter { $AllUsers -eq $false -and $Prefixes[0] -eq (Join-PathPart $script:homePath 'conda') } -Times 1 -Exactly
    }

    It 'as SYSTEM on Windows protects %ProgramData%\pybootstrap before anything goes in, and installs for all users' {
        Mock Get-Platform { @{ Os = 'windows'; Arch = 'x86_64'; Major = 10 } }
        Mock Test-IsSystem { $true }
        Mock Find-Python { $script:calls.Add('find'); $null }
        Mock New-Item { $script:calls.Add('create ' + $Path) }
        Mock Test-Path { $true }
        $saved = $env:ProgramData
        $env:ProgramData = 'C:\ProgramData'
        try {
            Invoke-Bootstrap -Settings @{} | Should -Be 5
        } finally {
            $env:ProgramData = $saved
        }
        $script:calls[1] | Should -Be 'protect C:\ProgramData\pybootstrap'
        $script:calls[2] | Should -BeLike 'create C:\ProgramData\pybootstrap\tmp\*'
        Should -Invoke Install-Miniforge -ParameterFilter { $AllUsers -eq $true -and $Prefixes[0] -eq 'C:\ProgramData\pybootstrap\conda' } -Times 1 -Exactly
        Should -Invoke Find-Python -ParameterFilter { $OwnOnly } -Times 1 -Exactly
    }

    It 'stops with exit code 8 and a plain message in Constrained Language Mode, before anything else' {
        Mock Get-LanguageModeProblem { '[pybootstrap] ERROR: PowerShell runs in ConstrainedLanguage mode here' }
        Invoke-Bootstrap -Settings $script:settings | Should -Be 8
        Should -Invoke Write-Host -ParameterFilter { $Object -like '*ConstrainedLanguage mode*' } -Times 1 -Exactly
        Should -Invoke Get-Platform -Times 0 -Exactly
        $script:calls | Should -HaveCount 0
    }

    It 'stops with exit code 2 on <Case> before touching the network or the disk' -ForEach @(
        @{ Case = 'an unknown parameter'; Settings = @{}; PassThrough = @('-Torch', '2.5.1'); Message = 'Unknown parameter -Torch.*' }
        @{ Case = 'a malformed SHA256'; Settings = @{ SourceSha256 = 'abc' }; PassThrough = @(); Message = '-SourceSha256 must be 64 hexadecimal digits, not "abc".' }
    ) {
        $Settings['HomePath'] = $script:homePath
        $script:expected = '*] ERROR: ' + $Message  # Should -Invoke's filter runs outside this block
        Invoke-Bootstrap -Settings $Settings -PassThrough $PassThrough | Should -Be 2
        Should -Invoke Write-Host -ParameterFilter { $Object -like $script:expected } -Times 1 -Exactly
        $script:calls | Should -HaveCount 0
        Test-Path -LiteralPath $script:homePath | Should -BeFalse
    }

    It 'returns the exit code a step fails with (here 9) and still removes the downloads folder' {
        Mock Install-ToolEnvironment { throw (New-BootstrapError -ExitCode 9 -Message 'SHA256 mismatch for x.whl') }
        Invoke-Bootstrap -Settings $script:settings | Should -Be 9
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] ERROR: SHA256 mismatch for x.whl' } -Times 1 -Exactly
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] Exit code 9.' } -Times 1 -Exactly
        Should -Invoke Invoke-Process -Times 0 -Exactly
        @(Get-ChildItem -LiteralPath (Join-Path $script:homePath 'tmp') -Force) | Should -HaveCount 0
    }

    It 'reports an unexpected error as exit code 1, a bug, with where it happened' {
        Mock Find-Python { throw 'something nobody expected' }
        Invoke-Bootstrap -Settings $script:settings | Should -Be 1
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] ERROR: something nobody expected' } -Times 1 -Exactly
        Should -Invoke Write-Host -ParameterFilter { $Object -like '*a bug in bootstrap.ps1; please report it*' } -Times 1 -Exactly
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] Exit code 1.' } -Times 1 -Exactly
    }

    It 'stops with exit code 8 when the home cannot be written' {
        $file = Join-Path $TestDrive 'not-a-folder'
        Set-Content -LiteralPath $file -Value 'x'
        Invoke-Bootstrap -Settings @{ HomePath = $file } | Should -Be 8
        Should -Invoke Find-Python -Times 0 -Exactly
        Should -Invoke Write-Host -ParameterFilter { $Object -like '*ERROR: Cannot write to the pybootstrap home*not-a-folder*Choose another with -HomePath.' } -Times 1 -Exactly
    }
}

Describe 'Exit-Bootstrap' {
    It 'under iex sets $LASTEXITCODE and returns instead of exiting' {
        Exit-Bootstrap -Code 6 -ViaIex $true
        $LASTEXITCODE | Should -Be 6
        Exit-Bootstrap -Code @('noise', 0) -ViaIex $true
        $LASTEXITCODE | Should -Be 0
        Exit-Bootstrap -Code 'not a number' -ViaIex $true
        $LASTEXITCODE | Should -Be 1
    }
}

Describe 'The script started for real in a child PowerShell' {
    # A bad -SourceSha256 is a usage error found before anything is touched: exit 2, quickly, on any machine.
    BeforeAll {
        $script:child = @{ PYBOOTSTRAP_NO_MAIN = $null; PYBOOTSTRAP_SOURCE_SHA256 = 'bad'; PYBOOTSTRAP_HOME = (Join-Path $TestDrive 'child-home') }
        $script:quoted = "'" + $script:ScriptPath.Replace("'", "''") + "'"
    }

    It 'through iex: the session goes on and $LASTEXITCODE holds the code' {
        $result = Invoke-ChildPowerShell -Environment $script:child -Command ('Get-Content -Raw -LiteralPath ' + $script:quoted + ' | Invoke-Expression; "still here: $LASTEXITCODE"')
        $result.Output | Should -Contain 'still here: 2'
        $result.Output -join "`n" | Should -BeLike '*-SourceSha256 must be 64 hexadecimal digits, not "bad".*'
        $result.ExitCode | Should -Be 0
    }

    It 'as a script block with parameters: the session goes on' {
        $result = Invoke-ChildPowerShell -Environment $script:child -Command ('& ([scriptblock]::Create((Get-Content -Raw -LiteralPath ' + $script:quoted + '))) -Proxy nonsense -- --variant cpu; "still here: $LASTEXITCODE"')
        $result.Output | Should -Contain 'still here: 2'
        $result.Output -join "`n" | Should -BeLike '*-SourceSha256 must be 64*'
    }

    It 'as a file: the process exits with the code, also with "--" before pybootstrap''s arguments' {
        $result = Invoke-ChildPowerShell -Environment $script:child -Arguments @('-File', $script:ScriptPath, '-Proxy', 'http://proxy.example:3128', '--', '--variant', 'cpu')
        $result.ExitCode | Should -Be 2
        $result.Output -join "`n" | Should -BeLike '*-SourceSha256 must be 64 hexadecimal digits*'
        $result.Output -join "`n" | Should -Not -BeLike '*is ambiguous*'
    }

    It 'as a file: an unknown parameter is exit code 2 with the script''s own message' {
        $result = Invoke-ChildPowerShell -Environment @{ PYBOOTSTRAP_NO_MAIN = $null } -Arguments @('-File', $script:ScriptPath, '-Yes')
        $result.ExitCode | Should -Be 2
        $result.Output -join "`n" | Should -BeLike '*Unknown parameter -Yes. bootstrap.ps1 takes -HomePath*'
    }

    It 'dot-sourced: defines the functions and runs nothing' {
        $result = Invoke-ChildPowerShell -Environment @{ PYBOOTSTRAP_NO_MAIN = $null } -Command ('. ' + $script:quoted + '; "defined: " + [bool](Get-Command Invoke-Bootstrap -ErrorAction SilentlyContinue); "code: $LASTEXITCODE"')
        $result.Output | Should -Contain 'defined: True'
        $result.Output | Should -Contain 'code: '
        $result.Output -join "`n" | Should -Not -BeLike '*pybootstrap]*'
    }
}
