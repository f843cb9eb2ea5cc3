# Finding Python: probing candidates, PEP 514, the py launcher, PATH, our own install and state.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    . $script:ScriptPath
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'probing an interpreter' {
    It 'runs the candidate isolated, with stdin closed, and never lets it auto-install' {
        Mock Invoke-ProcessCapture { New-ProbeResult }
        $null = Invoke-PythonProbe -Path 'C:\Python312\python.exe'
        Should -Invoke Invoke-ProcessCapture -Times 1 -Exactly -ParameterFilter {
            $FilePath -eq 'C:\Python312\python.exe' -and
            $ArgumentList[0] -eq '-I' -and $ArgumentList[1] -eq '-c' -and
            $ArgumentList[2] -match 'json\.dumps' -and $ArgumentList[2] -notmatch '"' -and
            $Environment['PYTHON_MANAGER_AUTOMATIC_INSTALL'] -eq 'false' -and
            $TimeoutSeconds -gt 0
        }
    }

    It 'accepts a 64-bit Python 3.9+ with venv' {
        $verdict = Test-PythonProbeResult -Result (New-ProbeResult -Version '3.12.4') -Path 'C:\Python312\python.exe'
        $verdict.Usable | Should -BeTrue
        $verdict.Version | Should -Be '3.12.4'
        $verdict.Executable | Should -Be 'C:\Python312\python.exe'
        (Test-PythonProbeResult -Result (New-ProbeResult -Version '3.9.0') -Path 'x').Usable | Should -BeTrue
    }

    It 'rejects <Case>' -ForEach @(
        @{ Case = 'the Store placeholder'; Raw = @{ ExitCode = 9009; StdOut = ''; StdErr = 'Python was not found'; TimedOut = $false }; Probe = $null; Reason = 'Store placeholder' },
        @{ Case = 'a hung interpreter'; Raw = @{ ExitCode = -1; StdOut = ''; StdErr = ''; TimedOut = $true }; Probe = $null; Reason = 'time limit' },
        @{ Case = 'a crashing interpreter'; Raw = @{ ExitCode = 3; StdOut = ''; StdErr = ''; TimedOut = $false }; Probe = $null; Reason = 'exited with code 3' },
        @{ Case = 'an answer without JSON'; Raw = @{ ExitCode = 0; StdOut = 'Python 2.7'; StdErr = ''; TimedOut = $false }; Probe = $null; Reason = 'no JSON' },
        @{ Case = 'Python 3.8'; Raw = $null; Probe = @{ Version = '3.8.10' }; Reason = '3\.9 or newer' },
        @{ Case = 'a 32-bit Python'; Raw = $null; Probe = @{ Bits = 32 }; Reason = '32-bit' },
        @{ Case = 'a Store Python'; Raw = $null; Probe = @{ Executable = 'C:\Users\a\AppData\Local\Microsoft\WindowsApps\PythonSoftwareFoundation.Python.3.12_qbz5n2kfra8p0\python.exe' }; Reason = 'Microsoft Store Python' },
        @{ Case = 'a Python without venv'; Raw = $null; Probe = @{ Venv = $false }; Reason = 'venv' },
        @{ Case = 'nothing at all'; Raw = $null; Probe = $null; Reason = 'could not be run' }
    ) {
        # The data is plain hashtables: helpers do not exist yet while Pester discovers the tests.
        $result = $null
        if ($null -ne $Raw) {
            $result = [pscustomobject]$Raw
        }
        elseif ($null -ne $Probe) {
            $arguments = $Probe
            $result = New-ProbeResult @arguments
        }
        $verdict = Test-PythonProbeResult -Result $result -Path 'C:\candidate\python.exe'
        $verdict.Usable | Should -BeFalse
        $verdict.Reason | Should -Match $Reason
    }
}

Describe 'candidate sources' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'parses "py -0p" from old and new launchers' {
        $text = @(
            'Installed Pythons found by py Launcher for Windows',
            ' -3.10-64        C:\Python310\python.exe *',
            ' -V:3.12 *        C:\Users\ann\AppData\Local\Programs\Python\Python312\python.exe',
            ' -V:3.13          C:\Users\ann\AppData\Local\Python\pythoncore-3.13-64\python.exe',
            ' -V:ContinuumAnalytics/Anaconda39-64 C:\anaconda3\python.exe'
        ) -join "`r`n"
        $paths = @(ConvertFrom-PyLauncherList -Text $text)
        $paths | Should -Contain 'C:\Users\ann\AppData\Local\Programs\Python\Python312\python.exe'
        $paths | Should -Contain 'C:\Users\ann\AppData\Local\Python\pythoncore-3.13-64\python.exe'
        $paths | Should -Contain 'C:\anaconda3\python.exe'
        $paths | Should -Contain 'C:\Python310\python.exe'
        @(ConvertFrom-PyLauncherList -Text '').Count | Should -Be 0
    }

    It 'orders PEP 514 entries: HKCU first, then HKLM, newest first, default python.exe' {
        $entries = @(
            [pscustomobject]@{ Root = 'HKLM64'; Company = 'PythonCore'; Tag = '3.13'; InstallPath = 'C:\Program Files\Python313'; ExecutablePath = ''; Version = '3.13.1' },
            [pscustomobject]@{ Root = 'HKCU'; Company = 'PythonCore'; Tag = '3.11'; InstallPath = 'C:\Users\a\Py311'; ExecutablePath = ''; Version = '' },
            [pscustomobject]@{ Root = 'HKCU'; Company = 'PythonCore'; Tag = '3.12'; InstallPath = 'C:\Users\a\Py312'; ExecutablePath = 'C:\Users\a\Py312\python.exe'; Version = '3.12.4' },
            [pscustomobject]@{ Root = 'HKLM32'; Company = 'PythonCore'; Tag = '3.12-32'; InstallPath = ''; ExecutablePath = ''; Version = '' }
        )
        $paths = @(Get-RegistryPythonPaths -Entries $entries)
        ($paths -join '|') | Should -Be 'C:\Users\a\Py312\python.exe|C:\Users\a\Py311\python.exe|C:\Program Files\Python313\python.exe'
    }

    It 'asks the py launcher with -0p when there is one' {
        Mock Get-CommandPath { 'C:\Windows\py.exe' } -ParameterFilter { $Name -eq 'py' }
        Mock Get-CommandPath { return }
        Mock Invoke-ProcessCapture { [pscustomobject]@{ ExitCode = 0; StdOut = ' -V:3.12 * C:\Py312\python.exe'; StdErr = ''; TimedOut = $false } }
        @(Get-PyLauncherPythonPaths) | Should -Be 'C:\Py312\python.exe'
        Should -Invoke Invoke-ProcessCapture -ParameterFilter { $FilePath -eq 'C:\Windows\py.exe' -and $ArgumentList -contains '-0p' -and $Environment['PYTHON_MANAGER_AUTOMATIC_INSTALL'] -eq 'false' } -Times 1 -Exactly
    }

    It 'skips the py launcher when it is missing or fails' {
        Mock Get-CommandPath { return }
        Mock Invoke-ProcessCapture { [pscustomobject]@{ ExitCode = 1; StdOut = ''; StdErr = ''; TimedOut = $false } }
        @(Get-PyLauncherPythonPaths).Count | Should -Be 0
        Should -Invoke Invoke-ProcessCapture -Times 0 -Exactly
        Mock Get-CommandPath { 'C:\Windows\py.exe' }
        @(Get-PyLauncherPythonPaths).Count | Should -Be 0
    }

    It 'takes python from PATH but not the WindowsApps stub' {
        Mock Get-CommandPath { @('C:\Users\a\AppData\Local\Microsoft\WindowsApps\python.exe', 'C:\Tools\Python312\python.exe') } -ParameterFilter { $Name -eq 'python' }
        Mock Get-CommandPath { return }
        ((@(Get-PathPythonPaths)) -join '|') | Should -Be 'C:\Tools\Python312\python.exe'
    }

    It 'knows where its own interpreter lives' {
        Get-OwnPythonPath -Prefix 'C:\pyb\conda' -PythonVersion '3.12' | Should -Be 'C:\pyb\conda\envs\py312\python.exe'
        Get-OwnPythonPath -Prefix 'C:\pyb\conda' -PythonVersion 'base' | Should -Be 'C:\pyb\conda\python.exe'
    }
}

Describe 'Get-PythonCandidates' {
    BeforeAll {
        Mock Write-Log { return }
        Mock Get-PythonRegistryEntries { [pscustomobject]@{ Root = 'HKCU'; Company = 'PythonCore'; Tag = '3.12'; InstallPath = 'C:\Py312'; ExecutablePath = ''; Version = '3.12.1' } }
        Mock Get-PyLauncherPythonPaths { @('C:\Py312\python.exe', 'C:\Py311\python.exe') }
        Mock Get-PathPythonPaths { @('C:\Tools\python.exe', 'C:\Users\a\AppData\Local\Microsoft\WindowsApps\python.exe') }
        $script:State = [pscustomobject]@{ python = [pscustomobject]@{ executable = 'D:\earlier\python.exe'; source = 'registry' } }
    }

    It 'lists the state file, our own install, PEP 514, the py launcher and PATH, without duplicates' {
        $candidates = @(Get-PythonCandidates -Config (New-TestConfig) -State $script:State)
        ($candidates | ForEach-Object { $_.Source + '=' + $_.Path }) -join '|' | Should -Be (
            'state=D:\earlier\python.exe|own-install=C:\pyb\conda\envs\py312\python.exe|registry=C:\Py312\python.exe|' +
            'py-launcher=C:\Py311\python.exe|path=C:\Tools\python.exe')
    }

    It 'ignores the state file with -Force' {
        $candidates = @(Get-PythonCandidates -Config (New-TestConfig -Override @{ Force = $true }) -State $script:State)
        $candidates[0].Source | Should -Be 'own-install'
    }

    It 'looks only at its own install with -NoExistingPython' {
        $candidates = @(Get-PythonCandidates -Config (New-TestConfig -Override @{ NoExistingPython = $true }) -State $script:State)
        ($candidates | ForEach-Object { $_.Source }) -join '|' | Should -Be 'own-install'
        Should -Invoke Get-PythonRegistryEntries -Times 0 -Exactly
        Should -Invoke Get-PyLauncherPythonPaths -Times 0 -Exactly
        Should -Invoke Get-PathPythonPaths -Times 0 -Exactly
    }
}

Describe 'Find-Python' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'returns the first candidate that exists and passes the probe' {
        Mock Get-PythonCandidates {
            [pscustomobject]@{ Path = 'C:\gone\python.exe'; Source = 'state' }
            [pscustomobject]@{ Path = 'C:\Py38\python.exe'; Source = 'registry' }
            [pscustomobject]@{ Path = 'C:\Py312\python.exe'; Source = 'py-launcher' }
            [pscustomobject]@{ Path = 'C:\Py313\python.exe'; Source = 'path' }
        }
        Mock Test-PathExists { $true }
        Mock Test-PathExists { $false } -ParameterFilter { $Path -eq 'C:\gone\python.exe' }
        Mock Invoke-PythonProbe { New-ProbeResult -Executable $Path -Version '3.12.4' }
        Mock Invoke-PythonProbe { New-ProbeResult -Executable $Path -Version '3.8.10' } -ParameterFilter { $Path -eq 'C:\Py38\python.exe' }
        $found = Find-Python -Config (New-TestConfig) -State $null
        $found.Executable | Should -Be 'C:\Py312\python.exe'
        $found.Source | Should -Be 'py-launcher'
        Should -Invoke Invoke-PythonProbe -Times 2 -Exactly
        Should -Invoke Write-Log -ParameterFilter { $Message -match 'Not using C:\\Py38\\python\.exe .* 3\.9 or newer' } -Times 1 -Exactly
    }

    It 'returns $null when nothing is usable' {
        Mock Get-PythonCandidates { [pscustomobject]@{ Path = 'C:\Py38\python.exe'; Source = 'registry' } }
        Mock Test-PathExists { $true }
        Mock Invoke-PythonProbe { New-ProbeResult -Version '3.8.10' }
        Find-Python -Config (New-TestConfig) -State $null | Should -BeNullOrEmpty
    }

    It 'uses -PythonExe as given, or stops with exit code 8' {
        Mock Get-PythonCandidates { return }
        Mock Invoke-PythonProbe { New-ProbeResult -Executable 'D:\py\python.exe' }
        $found = Find-Python -Config (New-TestConfig -Override @{ PythonExe = 'D:\py\python.exe' }) -State $null
        $found.Source | Should -Be 'parameter'
        Should -Invoke Get-PythonCandidates -Times 0 -Exactly
        Mock Invoke-PythonProbe { New-ProbeResult -Bits 32 }
        Get-ThrownExitCode { Find-Python -Config (New-TestConfig -Override @{ PythonExe = 'D:\py32\python.exe' }) -State $null } | Should -Be 8
    }
}
