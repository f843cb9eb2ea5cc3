# Running programs, temporary folders, UTF-8 files and the log. These tests start real child
# processes (this PowerShell itself), so they run on any machine with pwsh.

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    . $script:ScriptPath
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:Exe = Get-HostExecutable
}

Describe 'running programs' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'captures stdout, stderr and the exit code' {
        $result = Invoke-ProcessCapture -FilePath $script:Exe -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', "Write-Output 'out-text'; [Console]::Error.WriteLine('err-text'); exit 3") -TimeoutSeconds 120
        $result.ExitCode | Should -Be 3
        $result.TimedOut | Should -BeFalse
        $result.StdOut | Should -Match 'out-text'
        $result.StdErr | Should -Match 'err-text'
    }

    It 'sets and removes environment variables for the child only' {
        $backup = Set-ProcessEnvironment -Values @{ PYBOOTSTRAP_PESTER_REMOVED = 'parent' }
        try {
            $command = 'Write-Output ("added=" + $env:PYBOOTSTRAP_PESTER_ADDED + ";removed=" + $env:PYBOOTSTRAP_PESTER_REMOVED)'
            $result = Invoke-ProcessCapture -FilePath $script:Exe -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', $command) -TimeoutSeconds 120 -Environment @{
                PYBOOTSTRAP_PESTER_ADDED = 'child'
                PYBOOTSTRAP_PESTER_REMOVED = $null
            }
            $result.StdOut.Trim() | Should -Be 'added=child;removed='
            $env:PYBOOTSTRAP_PESTER_REMOVED | Should -Be 'parent'
            $env:PYBOOTSTRAP_PESTER_ADDED | Should -BeNullOrEmpty
        }
        finally {
            Restore-ProcessEnvironment -Backup $backup
        }
    }

    It 'kills a child that runs past the time limit' {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $result = Invoke-ProcessCapture -FilePath $script:Exe -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', 'Start-Sleep -Seconds 60') -TimeoutSeconds 3
        $result.TimedOut | Should -BeTrue
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 45
    }

    It 'reports a program that cannot start' {
        $result = Invoke-ProcessCapture -FilePath (Join-Path -Path $TestDrive -ChildPath 'no-such-program.exe') -ArgumentList @('-V')
        $result.ExitCode | Should -Be -1
        $result.TimedOut | Should -BeFalse
    }

    It 'runs a native command, logs its output and returns the exit code' {
        $result = Invoke-NativeCommand -FilePath $script:Exe -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', 'Write-Output native-line; exit 4')
        $result.ExitCode | Should -Be 4
        $result.Output | Should -Contain 'native-line'
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Detail' -and $Message -eq 'native-line' } -Times 1 -Exactly
    }

    It 'does not turn native stderr into a terminating error' {
        $ErrorActionPreference = 'Stop'
        $result = Invoke-NativeCommand -FilePath $script:Exe -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', '[Console]::Error.WriteLine(''warning on stderr''); exit 0')
        $result.ExitCode | Should -Be 0
        ($result.Output -join ' ') | Should -Match 'warning on stderr'
    }

    It 'returns -1 for a native command that does not exist' {
        (Invoke-NativeCommand -FilePath (Join-Path -Path $TestDrive -ChildPath 'missing.exe')).ExitCode | Should -Be -1
    }

    It 'hands the console to pybootstrap and returns its exit code' {
        Invoke-Pybootstrap -FilePath $script:Exe -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', 'exit 7') | Should -Be 7
    }

    It 'waits for a process and gives up at the time limit' {
        $done = New-Object -TypeName psobject
        Add-Member -InputObject $done -MemberType ScriptMethod -Name WaitForExit -Value { param($Milliseconds) $true }
        Wait-ProcessExit -Process $done -TimeoutSeconds 5 | Should -BeTrue
        $hung = New-Object -TypeName psobject
        Add-Member -InputObject $hung -MemberType ScriptMethod -Name WaitForExit -Value { param($Milliseconds) $false }
        Wait-ProcessExit -Process $hung -TimeoutSeconds 1 | Should -BeFalse
    }
}

Describe 'temporary folders and files' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'creates a fresh pybootstrap-* folder under TEMP and removes it' {
        $folder = New-TempDirectory
        Split-Path -Path $folder -Leaf | Should -Match '^pybootstrap-[0-9a-f]{32}$'
        Test-Path -LiteralPath $folder -PathType Container | Should -BeTrue
        Remove-TempDirectory -Path $folder
        Test-Path -LiteralPath $folder | Should -BeFalse
    }

    It 'never removes a folder it did not make' {
        $folder = Join-Path -Path $TestDrive -ChildPath 'user-data'
        $null = New-Item -ItemType Directory -Path $folder
        Remove-TempDirectory -Path $folder
        Test-Path -LiteralPath $folder | Should -BeTrue
        Remove-TempDirectory -Path ''
    }

    It 'writes UTF-8 without a BOM, replaces atomically and appends' {
        $file = Join-Path -Path $TestDrive -ChildPath 'nested/out.txt'
        Write-Utf8File -Path $file -Content ('caf' + [char]0x00E9)
        $bytes = [System.IO.File]::ReadAllBytes($file)
        $bytes[0] | Should -Be 0x63
        $bytes.Length | Should -Be 5
        Write-Utf8File -Path $file -Content 'second'
        Write-Utf8File -Path $file -Content '+more' -Append
        [System.IO.File]::ReadAllText($file) | Should -BeExactly 'second+more'
        Test-Path -LiteralPath ($file + '.tmp') | Should -BeFalse
    }
}

Describe 'logging' {
    BeforeAll {
        Mock Write-Host { return }
    }

    AfterEach {
        Clear-LogState
    }

    It 'writes every level to the log file, with secrets redacted' {
        $log = Join-Path -Path $TestDrive -ChildPath 'logs/bootstrap.log'
        $opened = Initialize-Log -Path $log
        $opened | Should -Not -BeNullOrEmpty
        Write-Log -Message 'proxy http://bob:topsecret@proxy:3128'
        Write-Log -Level Warn -Message 'careful'
        Write-Log -Level Error -Message 'broken'
        Write-Log -Level Detail -Message 'fine detail'
        $text = Get-Content -LiteralPath $log -Raw
        $text | Should -Match '\[INFO\] proxy http://bob:\*\*\*@proxy:3128'
        $text | Should -Not -Match 'topsecret'
        $text | Should -Match '\[WARN\] careful'
        $text | Should -Match '\[ERROR\] broken'
        $text | Should -Match '\[DETAIL\] fine detail'
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] ERROR: broken' } -Times 1 -Exactly
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] WARNING: careful' } -Times 1 -Exactly
    }

    It 'shows detail lines on the console only with -Verbose' {
        $VerbosePreference = 'SilentlyContinue'
        Write-Log -Level Detail -Message 'quiet detail'
        Should -Invoke Write-Host -Times 0 -Exactly
        $VerbosePreference = 'Continue'
        Write-Log -Level Detail -Message 'loud detail'
        Should -Invoke Write-Host -ParameterFilter { $Object -match 'loud detail' } -Times 1 -Exactly
        $VerbosePreference = 'SilentlyContinue'
    }

    It 'falls back to TEMP when the log folder cannot be created, and forgets the file afterwards' {
        $blocker = Join-Path -Path $TestDrive -ChildPath 'a-file'
        Set-Content -LiteralPath $blocker -Value 'x'
        $opened = Initialize-Log -Path (Join-Path -Path $blocker -ChildPath 'sub/bootstrap.log')
        $opened | Should -Match 'pybootstrap-bootstrap-\d{8}-\d{6}\.log$'
        Test-Path -LiteralPath $opened | Should -BeTrue
        Clear-LogState
        Write-Log -Message 'console only'
        (Get-Content -LiteralPath $opened -Raw) | Should -Not -Match 'console only'
        Remove-Item -LiteralPath $opened -Force
    }
}
