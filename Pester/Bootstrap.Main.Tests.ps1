# The whole run (Invoke-Bootstrap) with every step mocked, and the three ways to start the script:
# "iex", "& ([scriptblock]::Create(...))" and a file.

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
    BeforeAll {
        Mock Write-Log { return }
        Mock Write-Host { return }
        Mock Get-LanguageMode { 'FullLanguage' }
        Mock Get-PSVersion { [version]'5.1.22621' }
        Mock Test-IsSystem { $false }
        Mock Initialize-Log { return }
        Mock Write-ConfigSummary { return }
        Mock Assert-Platform { 'x86_64' }
        Mock Test-LongPathSupport { $true }
        Mock Test-FreeSpace { $true }
        Mock Set-SecurityProtocol { 0 }
        Mock Get-ChildEnvironment { @{ PYBOOTSTRAP_HOME = 'C:\h' } }
        Mock Set-ProcessEnvironment { @{ PYBOOTSTRAP_HOME = $null } }
        Mock Restore-ProcessEnvironment { return }
        Mock New-TempDirectory { 'C:\Temp\pybootstrap-0123' }
        Mock Remove-TempDirectory { return }
        Mock Read-BootstrapState { $null }
        Mock Find-Python { New-UsablePython }
        Mock Install-PythonRuntime { [pscustomobject]@{ Python = (New-UsablePython -Executable 'C:\h\conda\envs\py312\python.exe' -Source 'own-install'); Conda = $null; Planned = $false } }
        Mock Install-ToolEnvironment { [pscustomobject]@{ Python = 'C:\h\tool\venv\Scripts\python.exe'; Venv = 'C:\h\tool\venv'; Ready = $true; Reused = $false; Source = [pscustomobject]@{ Location = 'x'; Kind = 'Folder'; Sha256 = $null } } }
        Mock Write-BootstrapState { return }
        Mock Invoke-Pybootstrap { 0 }
        $script:Settings = @{ HomePath = 'C:\h'; LogPath = 'C:\h\logs\test.log' }
    }

    It 'runs every step in order and returns pybootstrap''s exit code unchanged' {
        Mock Invoke-Pybootstrap { 5 }
        Invoke-Bootstrap -Settings $script:Settings | Should -Be 5
        Should -Invoke Find-Python -Times 1 -Exactly
        Should -Invoke Install-PythonRuntime -Times 0 -Exactly
        Should -Invoke Install-ToolEnvironment -ParameterFilter { $Python.Executable -eq 'C:\Python312\python.exe' } -Times 1 -Exactly
        Should -Invoke Write-BootstrapState -ParameterFilter { $Path -eq 'C:\h\bootstrap-state.json' } -Times 1 -Exactly
        Should -Invoke Invoke-Pybootstrap -ParameterFilter { $FilePath -eq 'C:\h\tool\venv\Scripts\python.exe' -and ($ArgumentList -join ' ') -eq '-m pybootstrap install' } -Times 1 -Exactly
        Should -Invoke Restore-ProcessEnvironment -Times 1 -Exactly
        Should -Invoke Remove-TempDirectory -ParameterFilter { $Path -eq 'C:\Temp\pybootstrap-0123' } -Times 1 -Exactly
    }

    It 'installs Miniconda/Miniforge only when no usable Python was found' {
        Mock Find-Python { $null }
        Invoke-Bootstrap -Settings $script:Settings | Should -Be 0
        Should -Invoke Install-PythonRuntime -Times 1 -Exactly
        Should -Invoke Install-ToolEnvironment -ParameterFilter { $Python.Executable -eq 'C:\h\conda\envs\py312\python.exe' } -Times 1 -Exactly
    }

    It 'stops with exit code 8 and a plain message in Constrained Language Mode' {
        Mock Get-LanguageMode { 'ConstrainedLanguage' }
        Invoke-Bootstrap -Settings $script:Settings | Should -Be 8
        Should -Invoke Write-Host -ParameterFilter { $Object -match 'ConstrainedLanguage' } -Times 1 -Exactly
        Should -Invoke Initialize-Log -Times 0 -Exactly
        Should -Invoke Find-Python -Times 0 -Exactly
    }

    It 'stops with exit code 2 on a usage error, before touching anything' {
        Invoke-Bootstrap -Settings @{ Distribution = 'Anaconda'; HomePath = 'C:\h' } | Should -Be 2
        Should -Invoke Set-ProcessEnvironment -Times 0 -Exactly
        Should -Invoke Find-Python -Times 0 -Exactly
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Error' -and $Message -match 'Miniconda or Miniforge' } -Times 1 -Exactly
    }

    It 'stops with exit code 8 on an old PowerShell' {
        Mock Get-PSVersion { [version]'4.0' }
        Invoke-Bootstrap -Settings $script:Settings | Should -Be 8
    }

    It 'returns the exit code <Code> carried by a failing step, and restores the environment' -ForEach @(
        @{ Code = 4 },
        @{ Code = 6 },
        @{ Code = 8 },
        @{ Code = 9 }
    ) {
        $code = $Code
        Mock Install-ToolEnvironment { throw (New-BootstrapError -ExitCode $code -Message ('step failed with ' + $code)) }
        Invoke-Bootstrap -Settings $script:Settings | Should -Be $Code
        Should -Invoke Restore-ProcessEnvironment -Times 1 -Exactly
        Should -Invoke Invoke-Pybootstrap -Times 0 -Exactly
    }

    It 'returns 1 for an unexpected error and says it is a bug' {
        Mock Find-Python { throw 'something nobody expected' }
        Invoke-Bootstrap -Settings $script:Settings | Should -Be 1
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Error' -and $Message -match 'a bug in bootstrap\.ps1' } -Times 1 -Exactly
    }

    It 'writes no state and makes no temporary folder in a dry run' {
        Mock Install-ToolEnvironment { [pscustomobject]@{ Python = 'C:\h\tool\venv\Scripts\python.exe'; Ready = $false; Source = $null } }
        Invoke-Bootstrap -Settings @{ HomePath = 'C:\h'; LogPath = 'C:\h\logs\test.log'; DryRun = $true } | Should -Be 0
        Should -Invoke New-TempDirectory -Times 0 -Exactly
        Should -Invoke Write-BootstrapState -Times 0 -Exactly
        Should -Invoke Invoke-Pybootstrap -Times 0 -Exactly
        Should -Invoke Write-Log -ParameterFilter { $Message -match '^\[dry-run\] would run: .* install --dry-run' } -Times 1 -Exactly
    }

    It 'enables long paths when asked' {
        Invoke-Bootstrap -Settings @{ HomePath = 'C:\h'; LogPath = 'C:\h\l.log'; EnableLongPaths = $true } | Should -Be 0
        Should -Invoke Test-LongPathSupport -ParameterFilter { $Enable -eq $true } -Times 1 -Exactly
    }
}

Describe 'starting the script' {
    BeforeAll {
        $script:Backup = @{}
        foreach ($name in @('PYBOOTSTRAP_NO_MAIN', 'PYBOOTSTRAP_DISTRIBUTION', 'PYBOOTSTRAP_HOME', 'PYBOOTSTRAP_LOG_PATH')) {
            $script:Backup[$name] = [System.Environment]::GetEnvironmentVariable($name)
        }
    }

    BeforeEach {
        # A bad distribution ends every run with exit code 2 before it changes anything.
        Remove-Item -LiteralPath 'Env:PYBOOTSTRAP_NO_MAIN' -ErrorAction SilentlyContinue
        $env:PYBOOTSTRAP_DISTRIBUTION = 'NotADistribution'
        $env:PYBOOTSTRAP_HOME = Join-Path -Path $TestDrive -ChildPath 'home'
        $env:PYBOOTSTRAP_LOG_PATH = Join-Path -Path $TestDrive -ChildPath 'run.log'
    }

    AfterEach {
        Restore-ProcessEnvironment -Backup $script:Backup
        $global:LASTEXITCODE = 0
    }

    It 'reports through $LASTEXITCODE under "iex" and keeps the session alive' {
        $global:LASTEXITCODE = 0
        Invoke-Expression (Get-Content -LiteralPath $script:ScriptPath -Raw)
        $LASTEXITCODE | Should -Be 2
        Get-Content -LiteralPath $env:PYBOOTSTRAP_LOG_PATH -Raw | Should -Match 'Miniconda or Miniforge'
    }

    It 'reports through $LASTEXITCODE for "& ([scriptblock]::Create(...)) -Flag"' {
        $global:LASTEXITCODE = 0
        & ([scriptblock]::Create((Get-Content -LiteralPath $script:ScriptPath -Raw))) -Distribution 'AlsoNotOne' -PythonVersion '3.12'
        $LASTEXITCODE | Should -Be 2
        Get-Content -LiteralPath $env:PYBOOTSTRAP_LOG_PATH -Raw | Should -Match 'AlsoNotOne'
    }

    It 'leaves the host running after "irm | iex" in a new PowerShell (the documented one-liner)' {
        $command = "Invoke-Expression (Get-Content -LiteralPath '" + $script:ScriptPath + "' -Raw); Write-Output ('still-alive:' + `$LASTEXITCODE); exit `$LASTEXITCODE"
        $encoded = [System.Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($command))
        $output = & (Get-HostExecutable) -NoProfile -NonInteractive -EncodedCommand $encoded
        $code = $LASTEXITCODE
        ($output -join "`n") | Should -Match 'still-alive:2'
        $code | Should -Be 2
    }

    It 'exits with the code when run as a file' {
        $output = & (Get-HostExecutable) -NoProfile -NonInteractive -ExecutionPolicy Bypass -File $script:ScriptPath -PythonVersion '2.7'
        $LASTEXITCODE | Should -Be 2
        ($output -join "`n") | Should -Match 'ERROR'
    }

    It 'exits with code 8 on a machine that is not Windows' -Skip:$onWindows {
        Remove-Item -LiteralPath 'Env:PYBOOTSTRAP_DISTRIBUTION' -ErrorAction SilentlyContinue
        $null = & (Get-HostExecutable) -NoProfile -NonInteractive -File $script:ScriptPath -DryRun
        $LASTEXITCODE | Should -Be 8
    }
}
