# Running programs: on this console (Invoke-Process, through Start-Process) and captured (Invoke-ProcessCapture),
# the command-line quoting both rely on, checked against real child processes.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    . (Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:Python = Get-TestPython
    $script:Echo = 'import json,sys;print(json.dumps(sys.argv[1:]))'
}

Describe 'ConvertTo-CommandLine' {
    It 'quotes only what needs it (<Case>)' -ForEach @(
        @{ Case = 'plain words'; Arguments = @('-m', 'pip', 'install'); Line = '-m pip install' }
        @{ Case = 'a space'; Arguments = @('C:\Users\First Last\venv'); Line = '"C:\Users\First Last\venv"' }
        @{ Case = 'an empty argument'; Arguments = @('a', '', 'b'); Line = 'a "" b' }
        @{ Case = 'a quote'; Arguments = @('say "hi"'); Line = '"say \"hi\""' }
        @{ Case = 'a trailing backslash in quotes'; Arguments = @('C:\a b\'); Line = '"C:\a b\\"' }
        @{ Case = 'backslashes before a quote'; Arguments = @('a\"b c'); Line = '"a\\\"b c"' }
        @{ Case = 'backslashes elsewhere'; Arguments = @('\\server\share\x'); Line = '\\server\share\x' }
    ) {
        ConvertTo-CommandLine -ArgumentList $Arguments | Should -BeExactly $Line
    }

    It 'reaches a real program unchanged' {
        if (-not $script:Python) {
            Set-ItResult -Skipped -Because 'no Python on this machine'
            return
        }
        $arguments = @('plain', 'with space', '', 'quote"inside', 'trailing\', 'C:\a b\', 'a\"b c', '--packages', 'torch,torchvision', '-v')
        $result = Invoke-ProcessCapture -FilePath $script:Python -ArgumentList (@('-c', $script:Echo) + $arguments)
        $result.ExitCode | Should -Be 0
        @(ConvertFrom-Json -InputObject $result.Output.Trim()) | Should -Be $arguments
    }
}

Describe 'Invoke-Process' {
    It 'starts the program on this console with the quoted command line and returns its exit code' {
        Mock Start-Process { New-FakeProcess -ExitCode 7 }
        Invoke-Process -FilePath 'C:\h\tool\venv\Scripts\python.exe' -ArgumentList @('-m', 'pybootstrap', 'install', '--find-links', 'D:\my wheels') | Should -Be 7
        Should -Invoke Start-Process -ParameterFilter {
            $FilePath -eq 'C:\h\tool\venv\Scripts\python.exe' -and $ArgumentList -eq '-m pybootstrap install --find-links "D:\my wheels"' -and $NoNewWindow -and $PassThru -and -not $Wait
        } -Times 1 -Exactly
    }

    It 'passes an exact command line as it is' {
        Mock Start-Process { New-FakeProcess -ExitCode 0 }
        $null = Invoke-Process -FilePath 'C:\t\Miniforge3.exe' -ArgumentString '/S /D=C:\pyb\conda'
        Should -Invoke Start-Process -ParameterFilter { $ArgumentList -eq '/S /D=C:\pyb\conda' } -Times 1 -Exactly
    }

    It 'gives no argument list at all for a program without arguments' {
        Mock Start-Process { New-FakeProcess -ExitCode 0 }
        $null = Invoke-Process -FilePath 'tool'
        Should -Invoke Start-Process -ParameterFilter { $null -eq $ArgumentList } -Times 1 -Exactly
    }

    It 'stops with exit code 4 when the program cannot be started' {
        Mock Start-Process { throw 'This program is blocked by group policy.' }
        Get-ThrownExitCode { Invoke-Process -FilePath 'C:\t\Miniforge3.exe' } | Should -Be 4
        Get-ThrownMessage { Invoke-Process -FilePath 'C:\t\Miniforge3.exe' } | Should -Be 'Could not start C:\t\Miniforge3.exe: This program is blocked by group policy.'
    }

    It 'returns the exit code of a real program' {
        $exitCode = Invoke-Process -FilePath (Get-HostExecutable) -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', 'exit 7')
        $exitCode | Should -Be 7
    }
}

Describe 'Invoke-ProcessCapture' {
    It 'captures the output and the exit code of a real program, with stdin closed' {
        $result = Invoke-ProcessCapture -FilePath (Get-HostExecutable) -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', '[Console]::In.ReadToEnd().Length; "out"; exit 3')
        $result.ExitCode | Should -Be 3
        ($result.Output -split "`r?`n") | Should -Contain 'out'
        ($result.Output -split "`r?`n")[0] | Should -Be '0'
    }

    It 'reports a program that does not exist as exit code -1' {
        $result = Invoke-ProcessCapture -FilePath (Join-Path $TestDrive 'no-such-program')
        $result.ExitCode | Should -Be -1
        $result.Output | Should -Not -BeNullOrEmpty
    }

    It 'stops a program that does not answer in time' {
        $result = Invoke-ProcessCapture -FilePath (Get-HostExecutable) -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', 'Start-Sleep -Seconds 60') -TimeoutSeconds 1
        $result.ExitCode | Should -Be -1
        $result.Output | Should -Be 'no answer within 1 s'
    }
}
