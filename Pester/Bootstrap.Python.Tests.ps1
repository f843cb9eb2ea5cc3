# Finding Python: the probe's verdicts, where the script looks and in which order (Windows with the registry,
# the py launcher and PATH mocked; Linux), and one real probe of a real Python.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    . (Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'Get-PythonInfo' {
    It 'runs the candidate isolated (-I -c) and takes a 64-bit Python 3.9+ with venv' {
        Mock Invoke-ProcessCapture { New-ProbeOutput -Executable 'C:\Python312\python.exe' -Version '3.12.4' }
        $info = Get-PythonInfo -Path 'C:\Python312\python.exe'
        $info.Problem | Should -BeNullOrEmpty
        $info.Executable | Should -Be 'C:\Python312\python.exe'
        $info.Version | Should -Be ([version]'3.12.4')
        Should -Invoke Invoke-ProcessCapture -ParameterFilter { $FilePath -eq 'C:\Python312\python.exe' -and $ArgumentList[0] -eq '-I' -and $ArgumentList[1] -eq '-c' -and $ArgumentList[2] -notmatch '"' } -Times 1 -Exactly
    }

    It 'rejects <Case>' -ForEach @(
        @{ Case = 'the Store placeholder (exit 9009)'; Probe = @{ ExitCode = 9009 }; Problem = 'is the Microsoft Store placeholder, not a Python' }
        @{ Case = 'Python 3.8'; Probe = @{ Version = '3.8.10' }; Problem = 'is Python 3.8.10; 3.9 or newer is needed' }
        @{ Case = 'a 32-bit Python'; Probe = @{ Bits = 32 }; Problem = 'is a 32-bit Python; PyTorch needs a 64-bit one' }
        @{ Case = 'a Store Python'; Probe = @{ Executable = 'C:\Users\a\AppData\Local\Microsoft\WindowsApps\PythonSoftwareFoundation.Python.3.12_qbz5n2kfra8p0\python.exe' }; Problem = 'is a Microsoft Store Python*' }
        @{ Case = 'a Python without venv'; Probe = @{ Venv = $false }; Problem = 'has no venv/ensurepip module*' }
        @{ Case = 'a program that fails'; Probe = @{ ExitCode = 1 }; Problem = 'did not run (exit code 1)' }
    ) {
        Mock Invoke-ProcessCapture { New-ProbeOutput @Probe }
        (Get-PythonInfo -Path 'C:\x\python.exe').Problem | Should -BeLike $Problem
    }

    It 'rejects a program that does not answer with JSON' {
        Mock Invoke-ProcessCapture { [pscustomobject]@{ ExitCode = 0; Output = 'Python was not found; run without arguments to install from the Microsoft Store' } }
        (Get-PythonInfo -Path 'C:\x\python.exe').Problem | Should -Be 'did not run (exit code 0)'
    }

    It 'probes a real Python' {
        $python = Get-TestPython
        if (-not $python) {
            Set-ItResult -Skipped -Because 'no Python on this machine'
            return
        }
        $info = Get-PythonInfo -Path $python
        $info.Version | Should -BeGreaterOrEqual ([version]'3.9')
        $info.Problem | Should -BeNullOrEmpty
        Test-Path -LiteralPath $info.Executable | Should -BeTrue
    }
}

Describe 'ConvertFrom-PyLauncherList' {
    It 'reads <Format>' -ForEach @(
        @{ Format = 'the 3.11+ launcher'; Text = " -V:3.12 *        C:\Users\a\AppData\Local\Programs\Python\Python312\python.exe`r`n -V:3.11          C:\Program Files\Python311\python.exe"; Paths = @('C:\Users\a\AppData\Local\Programs\Python\Python312\python.exe', 'C:\Program Files\Python311\python.exe') }
        @{ Format = 'older launchers'; Text = " -3.10-64        C:\Python310\python.exe *`n -3.9-64         C:\Python39\python.exe"; Paths = @('C:\Python310\python.exe', 'C:\Python39\python.exe') }
        @{ Format = 'no runtime'; Text = 'No installed Pythons found!'; Paths = @() }
    ) {
        @(ConvertFrom-PyLauncherList -Text $Text) | Should -Be $Paths
    }
}

Describe 'Get-PythonCandidates' {
    BeforeEach {
        Mock Get-Pep514PythonPath { 'C:\Users\a\AppData\Local\Programs\Python\Python312\python.exe'; 'C:\Program Files\Python311\python.exe' }
        Mock Get-Command { return } -ParameterFilter { $Name -eq 'py' }
        Mock Get-Command { [pscustomobject]@{ Path = 'C:\Users\a\AppData\Local\Microsoft\WindowsApps\python.exe' }; [pscustomobject]@{ Path = 'C:\tools\python\python.exe' } } -ParameterFilter { $Name -eq 'python' }
        Mock Get-Command { [pscustomobject]@{ Path = 'c:\program files\python311\PYTHON.EXE' } } -ParameterFilter { $Name -eq 'python3' }
        Mock Get-Command { return }
        Mock Invoke-ProcessCapture { [pscustomobject]@{ ExitCode = 0; Output = " -V:3.13 *  C:\py\Python313\python.exe" } }
    }

    It 'on Windows: own Miniforge, PEP 514, the py launcher, then PATH; no WindowsApps alias; no duplicates' {
        Mock Get-Command { [pscustomobject]@{ Path = 'C:\Windows\py.exe' } } -ParameterFilter { $Name -eq 'py' }
        $candidates = @(Get-PythonCandidates -Prefixes @('C:\Users\a\AppData\Local\pybootstrap\conda', 'C:\pybootstrap\conda') -Os windows)
        $candidates | Should -Be @(
            'C:\Users\a\AppData\Local\pybootstrap\conda\python.exe',
            'C:\pybootstrap\conda\python.exe',
            'C:\Users\a\AppData\Local\Programs\Python\Python312\python.exe',
            'C:\Program Files\Python311\python.exe',
            'C:\py\Python313\python.exe',
            'C:\tools\python\python.exe')
        Should -Invoke Invoke-ProcessCapture -ParameterFilter { $FilePath -eq 'C:\Windows\py.exe' -and ($ArgumentList -join ' ') -eq '-0p' } -Times 1 -Exactly
    }

    It 'on Windows without the py launcher skips it' {
        $candidates = @(Get-PythonCandidates -Prefixes @('C:\pyb\conda') -Os windows)
        $candidates | Should -Not -Contain 'C:\py\Python313\python.exe'
        Should -Invoke Invoke-ProcessCapture -Times 0 -Exactly
    }

    It 'as SYSTEM (-OwnOnly): our own Miniforge alone, never a Python that users may be able to change' {
        Mock Get-Command { [pscustomobject]@{ Path = 'C:\Windows\py.exe' } } -ParameterFilter { $Name -eq 'py' }
        @(Get-PythonCandidates -Prefixes @('C:\ProgramData\pybootstrap\conda') -Os windows -OwnOnly) | Should -Be @('C:\ProgramData\pybootstrap\conda\python.exe')
        Should -Invoke Get-Pep514PythonPath -Times 0 -Exactly
        Should -Invoke Invoke-ProcessCapture -Times 0 -Exactly
        Should -Invoke Get-Command -Times 0 -Exactly
    }

    It 'on Linux and macOS: own Miniforge, then every python3 on PATH, never the registry' {
        Mock Get-Command { [pscustomobject]@{ Path = '/usr/local/bin/python3' }; [pscustomobject]@{ Path = '/usr/bin/python3' } } -ParameterFilter { $Name -eq 'python3' }
        $candidates = @(Get-PythonCandidates -Prefixes @('/home/a/.local/share/pybootstrap/conda') -Os linux)
        $candidates | Should -Be @('/home/a/.local/share/pybootstrap/conda/bin/python3', '/usr/local/bin/python3', '/usr/bin/python3')
        Should -Invoke Get-Pep514PythonPath -Times 0 -Exactly
        Should -Invoke Get-Command -ParameterFilter { $Name -eq 'python' } -Times 0 -Exactly
    }
}

Describe 'Find-Python' {
    BeforeEach {
        Mock Write-Host { return }
        Mock Get-PythonCandidates { 'C:\gone\python.exe'; 'C:\old\python.exe'; 'C:\good\python.exe'; 'C:\later\python.exe' }
        Mock Test-Path { $LiteralPath -ne 'C:\gone\python.exe' }
        Mock Get-PythonInfo { [pscustomobject]@{ Path = $Path; Executable = $Path; Version = [version]'3.8.10'; Problem = 'is Python 3.8.10; 3.9 or newer is needed' } } -ParameterFilter { $Path -eq 'C:\old\python.exe' }
        Mock Get-PythonInfo { [pscustomobject]@{ Path = $Path; Executable = $Path; Version = [version]'3.12.4'; Problem = $null } }
    }

    It 'takes the first usable candidate, skipping missing files and saying why others are not used' {
        (Find-Python -Prefixes @('C:\pyb\conda') -Os windows).Executable | Should -Be 'C:\good\python.exe'
        Should -Invoke Get-PythonInfo -ParameterFilter { $Path -eq 'C:\gone\python.exe' } -Times 0 -Exactly
        Should -Invoke Get-PythonInfo -ParameterFilter { $Path -eq 'C:\later\python.exe' } -Times 0 -Exactly
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] Not using C:\old\python.exe: it is Python 3.8.10; 3.9 or newer is needed.' } -Times 1 -Exactly
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] Using Python 3.12.4 at C:\good\python.exe.' } -Times 1 -Exactly
    }

    It 'passes -OwnOnly on' {
        $null = Find-Python -Prefixes @('C:\ProgramData\pybootstrap\conda') -Os windows -OwnOnly
        Should -Invoke Get-PythonCandidates -ParameterFilter { $OwnOnly } -Times 1 -Exactly
    }

    It 'is $null when nothing is usable' {
        Mock Get-PythonCandidates { 'C:\old\python.exe' }
        Find-Python -Prefixes @('C:\pyb\conda') -Os windows | Should -BeNullOrEmpty
    }

    It 'uses -PythonExe alone, and stops with exit code 8 when it is unusable' {
        (Find-Python -PythonExe 'C:\later\python.exe' -Os windows).Executable | Should -Be 'C:\later\python.exe'
        Should -Invoke Get-PythonCandidates -Times 0 -Exactly
        Get-ThrownExitCode { Find-Python -PythonExe 'C:\old\python.exe' -Os windows } | Should -Be 8
        Get-ThrownMessage { Find-Python -PythonExe 'C:\old\python.exe' -Os windows } | Should -Be '-PythonExe C:\old\python.exe cannot be used: it is Python 3.8.10; 3.9 or newer is needed.'
    }
}

Describe 'Get-Pep514PythonPath' {
    It 'returns paths (or nothing) without failing on any machine' {
        { @(Get-Pep514PythonPath) } | Should -Not -Throw
        @(Get-Pep514PythonPath) | ForEach-Object { $_ | Should -BeLike '*.exe' }
    }
}
