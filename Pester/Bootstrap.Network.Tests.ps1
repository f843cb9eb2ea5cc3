# TLS, proxies, downloads with retries, checksums and signatures, the child environment.

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    . $script:ScriptPath
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
}

Describe 'TLS and proxies' {
    BeforeAll {
        Mock Write-Log { return }
    }

    AfterEach {
        Clear-LogState
    }

    It 'leaves SystemDefault alone or makes sure TLS 1.2 is on' {
        $protocol = Set-SecurityProtocol
        (($protocol -eq 0) -or (($protocol -band 3072) -eq 3072)) | Should -BeTrue
    }

    It 'uses no proxy at all with -NoProxy' {
        $proxy = Resolve-ProxySettings -Proxy '' -NoProxy $true -Environment @{ HTTPS_PROXY = 'http://env:3128' }
        $proxy.Mode | Should -Be 'None'
    }

    It 'prefers an explicit proxy and keeps its password out of the log' {
        $proxy = Resolve-ProxySettings -Proxy 'http://alice:p%40ss@proxy.corp:8080' -Environment @{ HTTPS_PROXY = 'http://env:3128' }
        $proxy.Mode | Should -Be 'Explicit'
        $proxy.Uri | Should -Be 'http://proxy.corp:8080'
        $proxy.UserName | Should -Be 'alice'
        $proxy.Password | Should -Be 'p@ss'
        $proxy.ExportUri | Should -Be 'http://alice:p%40ss@proxy.corp:8080'
        ConvertTo-RedactedText -Text 'password p@ss' | Should -Be 'password ***'
    }

    It 'uses HTTPS_PROXY, then ALL_PROXY, then the system proxy' {
        (Resolve-ProxySettings -Proxy '' -Environment @{ HTTPS_PROXY = 'proxy.corp:3128'; ALL_PROXY = 'http://all:1' }).Uri | Should -Be 'http://proxy.corp:3128'
        $all = Resolve-ProxySettings -Proxy '' -Environment @{ HTTPS_PROXY = ''; ALL_PROXY = 'http://all:1' }
        $all.Mode | Should -Be 'Environment'
        $all.Uri | Should -Be 'http://all:1'
        $system = Resolve-ProxySettings -Proxy '' -Environment @{ HTTPS_PROXY = ''; ALL_PROXY = '' }
        $system.Mode | Should -Be 'System'
        $system.UseDefaultCredentials | Should -BeTrue
    }

    It 'uses default credentials for an explicit proxy only when asked and no user is given' {
        (Resolve-ProxySettings -Proxy 'http://p:8080' -UseDefaultCredentials $true -Environment @{}).UseDefaultCredentials | Should -BeTrue
        (Resolve-ProxySettings -Proxy 'http://p:8080' -UseDefaultCredentials $false -Environment @{}).UseDefaultCredentials | Should -BeFalse
        (Resolve-ProxySettings -Proxy 'http://u:x@p:8080' -UseDefaultCredentials $true -Environment @{}).UseDefaultCredentials | Should -BeFalse
    }

    It 'hands an explicit proxy to pip and conda' {
        $proxy = Resolve-ProxySettings -Proxy 'http://alice:pw@proxy.corp:8080' -Environment @{}
        $values = Get-ChildEnvironment -Config (New-TestConfig) -ProxySettings $proxy
        $values['HTTPS_PROXY'] | Should -Be 'http://alice:pw@proxy.corp:8080'
        $values['HTTP_PROXY'] | Should -Be 'http://alice:pw@proxy.corp:8080'
        $values['PYBOOTSTRAP_HOME'] | Should -Be 'C:\Users\tester\AppData\Local\pybootstrap'
        $values['PIP_NO_INPUT'] | Should -Be '1'
        $values['PYTHON_MANAGER_AUTOMATIC_INSTALL'] | Should -Be 'false'
        $values.ContainsKey('PYLAUNCHER_ALLOW_INSTALL') | Should -BeTrue
        $values['PYLAUNCHER_ALLOW_INSTALL'] | Should -BeNullOrEmpty
    }

    It 'clears proxy variables for -NoProxy' {
        $values = Get-ChildEnvironment -Config (New-TestConfig) -ProxySettings ([pscustomobject]@{ Mode = 'None' })
        $values.ContainsKey('HTTPS_PROXY') | Should -BeTrue
        $values['HTTPS_PROXY'] | Should -BeNullOrEmpty
        $values['NO_PROXY'] | Should -Be '*'
    }

    It 'hands the system proxy to pip and conda, which cannot read it themselves' {
        Mock Get-SystemProxyUri { 'http://wpad.corp:8080' }
        $backup = Set-ProcessEnvironment -Values @{ HTTPS_PROXY = $null }
        try {
            $values = Get-ChildEnvironment -Config (New-TestConfig) -ProxySettings ([pscustomobject]@{ Mode = 'System' })
        }
        finally {
            Restore-ProcessEnvironment -Backup $backup
        }
        $values['HTTPS_PROXY'] | Should -Be 'http://wpad.corp:8080'
        Should -Invoke Get-SystemProxyUri -Times 1 -Exactly
    }

    It 'sets and restores process environment variables' {
        $name = 'PYBOOTSTRAP_PESTER_' + [guid]::NewGuid().ToString('N')
        $backup = Set-ProcessEnvironment -Values @{ $name = 'value' }
        [System.Environment]::GetEnvironmentVariable($name) | Should -Be 'value'
        $backup.ContainsKey($name) | Should -BeTrue
        Restore-ProcessEnvironment -Backup $backup
        [System.Environment]::GetEnvironmentVariable($name) | Should -BeNullOrEmpty
    }
}

Describe 'Save-RemoteFile' {
    BeforeAll {
        Mock Write-Log { return }
        Mock Start-Sleep { return }
    }

    It 'downloads once when the first attempt works' {
        Mock Invoke-Download { Set-Content -LiteralPath $OutFile -Value 'data' }
        $target = Join-Path -Path $TestDrive -ChildPath 'once.bin'
        Save-RemoteFile -Url 'https://example.invalid/a.exe' -OutFile $target -Retries 3
        Should -Invoke Invoke-Download -Times 1 -Exactly
        Should -Invoke Start-Sleep -Times 0 -Exactly
    }

    It 'retries with a growing delay and then succeeds' {
        $script:attempts = 0
        Mock Invoke-Download {
            $script:attempts++
            if ($script:attempts -lt 3) {
                throw 'connection reset'
            }
            Set-Content -LiteralPath $OutFile -Value 'data'
        }
        $target = Join-Path -Path $TestDrive -ChildPath 'retry.bin'
        Save-RemoteFile -Url 'https://example.invalid/a.exe' -OutFile $target -Retries 3 -DelaySeconds 2
        Should -Invoke Invoke-Download -Times 3 -Exactly
        Should -Invoke Start-Sleep -ParameterFilter { $Seconds -eq 2 } -Times 1 -Exactly
        Should -Invoke Start-Sleep -ParameterFilter { $Seconds -eq 4 } -Times 1 -Exactly
    }

    It 'does not retry a 404 (exit code 6)' {
        Mock Invoke-Download { throw 'The remote server returned an error: (404) Not Found.' }
        Mock Get-HttpStatusCode { 404 }
        $target = Join-Path -Path $TestDrive -ChildPath 'missing.bin'
        Get-ThrownExitCode { Save-RemoteFile -Url 'https://example.invalid/a.exe' -OutFile $target -Retries 5 } | Should -Be 6
        Should -Invoke Invoke-Download -Times 1 -Exactly
    }

    It 'gives up after the retries with exit code 6 and advice' {
        Mock Invoke-Download { throw 'timed out' }
        Mock Get-HttpStatusCode { $null }
        $target = Join-Path -Path $TestDrive -ChildPath 'never.bin'
        $message = Get-ThrownMessage { Save-RemoteFile -Url 'https://example.invalid/a.exe' -OutFile $target -Retries 2 }
        $message | Should -Match 'after 3 attempts'
        $message | Should -Match '-Proxy'
        Get-ThrownExitCode { Save-RemoteFile -Url 'https://example.invalid/a.exe' -OutFile $target -Retries 0 } | Should -Be 6
    }

    It 'mentions proxy credentials on HTTP 407' {
        Mock Invoke-Download { throw 'proxy authentication required' }
        Mock Get-HttpStatusCode { 407 }
        $target = Join-Path -Path $TestDrive -ChildPath 'proxy.bin'
        Get-ThrownMessage { Save-RemoteFile -Url 'https://example.invalid/a.exe' -OutFile $target -Retries 0 } | Should -Match 'ProxyUseDefaultCredentials'
    }

    It 'copies a local or UNC path instead of downloading' {
        Mock Invoke-Download { return }
        $source = Join-Path -Path $TestDrive -ChildPath 'share-installer.exe'
        Set-Content -LiteralPath $source -Value 'installer'
        $target = Join-Path -Path $TestDrive -ChildPath 'copied.exe'
        Save-RemoteFile -Url $source -OutFile $target -Offline $true
        Get-Content -LiteralPath $target | Should -Be 'installer'
        Should -Invoke Invoke-Download -Times 0 -Exactly
        Get-ThrownExitCode { Save-RemoteFile -Url (Join-Path -Path $TestDrive -ChildPath 'nope.exe') -OutFile $target } | Should -Be 6
    }

    It 'refuses URLs when offline (exit code 6)' {
        Mock Invoke-Download { return }
        Get-ThrownExitCode { Save-RemoteFile -Url 'https://example.invalid/a.exe' -OutFile (Join-Path -Path $TestDrive -ChildPath 'x') -Offline $true } | Should -Be 6
        Should -Invoke Invoke-Download -Times 0 -Exactly
    }

    It 'downloads a file:// URL with WebClient' -Tag Windows -Skip:(-not $onWindows) {
        $source = Join-Path -Path $TestDrive -ChildPath 'payload.txt'
        Set-Content -LiteralPath $source -Value 'payload'
        $target = Join-Path -Path $TestDrive -ChildPath 'downloaded.txt'
        Invoke-Download -Url ([System.Uri]$source).AbsoluteUri -OutFile $target -ProxySettings ([pscustomobject]@{ Mode = 'None' })
        Get-Content -LiteralPath $target | Should -Be 'payload'
    }
}

Describe 'integrity' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'reads a SHA256 from a sidecar file over HTTPS' {
        Mock Save-RemoteFile { Set-Content -LiteralPath $OutFile -Value (('cd' * 32) + '  a.exe') }
        Get-Sha256FromSidecar -Url 'https://example.invalid/a.exe.sha256' -Directory $TestDrive | Should -Be ('cd' * 32)
        Should -Invoke Save-RemoteFile -ParameterFilter { $Url -eq 'https://example.invalid/a.exe.sha256' } -Times 1 -Exactly
    }

    It 'never trusts a sidecar over plain HTTP, nor a missing one (exit code 9)' {
        Mock Save-RemoteFile { throw (New-BootstrapError -ExitCode 6 -Message 'HTTP 404') }
        Get-ThrownExitCode { Get-Sha256FromSidecar -Url 'http://example.invalid/a.exe.sha256' -Directory $TestDrive } | Should -Be 9
        Get-ThrownExitCode { Get-Sha256FromSidecar -Url 'https://example.invalid/a.exe.sha256' -Directory $TestDrive } | Should -Be 9
        Get-ThrownMessage { Get-Sha256FromSidecar -Url 'https://example.invalid/a.exe.sha256' -Directory $TestDrive } | Should -Match 'InstallerSha256'
    }

    It 'accepts a file whose SHA256 matches, in any case' {
        $file = Join-Path -Path $TestDrive -ChildPath 'good.bin'
        [System.IO.File]::WriteAllBytes($file, [byte[]](97, 98, 99))
        Assert-FileHash -Path $file -ExpectedHash 'BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD'
        Test-Path -LiteralPath $file | Should -BeTrue
    }

    It 'deletes a file whose SHA256 does not match (exit code 9)' {
        $file = Join-Path -Path $TestDrive -ChildPath 'bad.bin'
        [System.IO.File]::WriteAllBytes($file, [byte[]](1, 2, 3))
        Get-ThrownExitCode { Assert-FileHash -Path $file -ExpectedHash ('0' * 64) -What 'bad.bin' } | Should -Be 9
        Test-Path -LiteralPath $file | Should -BeFalse
        Get-ThrownExitCode { Assert-FileHash -Path $file -ExpectedHash '' } | Should -Be 9
    }

    It 'keeps the user''s own file (-KeepFile) when its SHA256 does not match (exit code 9)' {
        $file = Join-Path -Path $TestDrive -ChildPath 'users-archive.tar.gz'
        [System.IO.File]::WriteAllBytes($file, [byte[]](1, 2, 3))
        Get-ThrownExitCode { Assert-FileHash -Path $file -ExpectedHash ('0' * 64) -What 'users-archive.tar.gz' -KeepFile } | Should -Be 9
        Get-ThrownMessage { Assert-FileHash -Path $file -ExpectedHash ('0' * 64) -KeepFile } | Should -Match 'was kept'
        Test-Path -LiteralPath $file | Should -BeTrue
    }

    It 'accepts a valid Authenticode signature by the expected signer' {
        Mock Get-SignatureStatus { [pscustomobject]@{ Status = 'Valid'; Subject = 'CN=Anaconda, Inc., O=Anaconda, Inc.'; Message = '' } }
        $file = Join-Path -Path $TestDrive -ChildPath 'signed.exe'
        Set-Content -LiteralPath $file -Value 'x'
        Assert-FileSignature -Path $file -SignerPattern 'Anaconda'
        Test-Path -LiteralPath $file | Should -BeTrue
    }

    It 'deletes a file that is <Case> (exit code 9)' -ForEach @(
        @{ Case = 'not signed'; Status = 'NotSigned'; Subject = ''; Pattern = '' },
        @{ Case = 'tampered with'; Status = 'HashMismatch'; Subject = 'CN=Anaconda, Inc.'; Pattern = 'Anaconda' },
        @{ Case = 'signed by someone else'; Status = 'Valid'; Subject = 'CN=Somebody Else'; Pattern = 'Anaconda' }
    ) {
        $signature = [pscustomobject]@{ Status = $Status; Subject = $Subject; Message = 'status message' }
        Mock Get-SignatureStatus { $signature }
        $file = Join-Path -Path $TestDrive -ChildPath 'suspect.exe'
        Set-Content -LiteralPath $file -Value 'x'
        Get-ThrownExitCode { Assert-FileSignature -Path $file -SignerPattern $Pattern } | Should -Be 9
        Test-Path -LiteralPath $file | Should -BeFalse
    }
}
