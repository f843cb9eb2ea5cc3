# Downloads (retries, what is final, proxies, local and UNC paths), where a SHA256 comes from, and the checks
# of a downloaded file (SHA256 always, Authenticode for Windows installers).

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    . (Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')

    function New-HttpFailure {
        # What Invoke-WebRequest throws for an HTTP error: an exception whose Response has a StatusCode.
        param([int] $Status)
        $exception = New-Object -TypeName System.Exception -ArgumentList ('Response status code does not indicate success: ' + $Status)
        $exception | Add-Member -NotePropertyName Response -NotePropertyValue ([pscustomobject]@{ StatusCode = $Status })
        return $exception
    }
}

Describe 'Save-Download' {
    BeforeEach {
        $script:attempts = 0
        $script:out = Join-Path $TestDrive ('file-' + [guid]::NewGuid().ToString('N'))
        Mock Write-Host { return }
        Mock Start-Sleep { return }
        Mock Invoke-WebRequest { $script:attempts++; Set-Content -LiteralPath $OutFile -Value 'payload' }
    }

    It 'downloads with basic parsing and no proxy of its own' {
        Save-Download -Url 'https://example.test/a.whl' -OutFile $script:out
        Get-Content -LiteralPath $script:out | Should -Be 'payload'
        Should -Invoke Invoke-WebRequest -ParameterFilter { $Uri -eq 'https://example.test/a.whl' -and $OutFile -eq $script:out -and $UseBasicParsing -and -not $Proxy } -Times 1 -Exactly
        Should -Invoke Start-Sleep -Times 0 -Exactly
    }

    It 'retries after 1 and 2 seconds and succeeds on the third attempt' {
        Mock Invoke-WebRequest {
            $script:attempts++
            if ($script:attempts -lt 3) { throw (New-Object System.Net.Http.HttpRequestException 'Connection refused') }
            Set-Content -LiteralPath $OutFile -Value 'payload'
        }
        Save-Download -Url 'https://example.test/a.whl' -OutFile $script:out
        $script:attempts | Should -Be 3
        Should -Invoke Start-Sleep -ParameterFilter { $Seconds -eq 1 } -Times 1 -Exactly
        Should -Invoke Start-Sleep -ParameterFilter { $Seconds -eq 2 } -Times 1 -Exactly
    }

    It 'gives up after 3 attempts with exit code 6, naming the URL without its secrets, and leaves no partial file' {
        Mock Invoke-WebRequest { $script:attempts++; Set-Content -LiteralPath $OutFile -Value 'partial'; throw (New-Object System.Net.Http.HttpRequestException 'Connection refused') }
        $url = 'https://user:secret@mirror.example/a.whl?token=abc'
        Get-ThrownExitCode { Save-Download -Url $url -OutFile $script:out } | Should -Be 6
        Get-ThrownMessage { Save-Download -Url $url -OutFile $script:out } | Should -BeLike 'Download failed after 3 attempt(s): https://mirror.example/a.whl: Connection refused*'
        Test-Path -LiteralPath $script:out | Should -BeFalse
        Should -Invoke Write-Host -ParameterFilter { $Object -like '*secret*' -or $Object -like '*token*' } -Times 0 -Exactly
    }

    It 'does not retry an HTTP <Status> answer' -ForEach @(@{ Status = 404 }, @{ Status = 403 }, @{ Status = 410 }) {
        Mock Invoke-WebRequest { $script:attempts++; throw (New-HttpFailure -Status $Status) }
        $failure = $null
        try { Save-Download -Url 'https://example.test/missing.whl' -OutFile $script:out } catch { $failure = $_.Exception }
        Get-ErrorExitCode -ErrorRecord $failure | Should -Be 6
        $failure.Data['HttpStatus'] | Should -Be $Status
        $script:attempts | Should -Be 1
    }

    It 'retries an HTTP <Status> answer' -ForEach @(@{ Status = 503 }, @{ Status = 429 }, @{ Status = 408 }) {
        Mock Invoke-WebRequest { $script:attempts++; throw (New-HttpFailure -Status $Status) }
        Get-ThrownExitCode { Save-Download -Url 'https://example.test/busy.whl' -OutFile $script:out } | Should -Be 6
        $script:attempts | Should -Be 3
    }

    It 'uses -Proxy, with the credentials from its URL kept out of the proxy address' {
        Save-Download -Url 'https://example.test/a.whl' -OutFile $script:out -Proxy 'http://DOMAIN%5Cuser:p%40ss@proxy.example:3128'
        Should -Invoke Invoke-WebRequest -ParameterFilter {
            $Proxy -eq 'http://proxy.example:3128' -and $ProxyCredential.UserName -eq 'DOMAIN\user' -and
            $ProxyCredential.GetNetworkCredential().Password -eq 'p@ss' -and -not $ProxyUseDefaultCredentials
        } -Times 1 -Exactly
    }

    It 'authenticates to a -Proxy without credentials as the current Windows account' {
        Save-Download -Url 'https://example.test/a.whl' -OutFile $script:out -Proxy 'http://proxy.example:3128'
        Should -Invoke Invoke-WebRequest -ParameterFilter { $Proxy -eq 'http://proxy.example:3128' -and $ProxyUseDefaultCredentials -and -not $ProxyCredential } -Times 1 -Exactly
    }

    It 'copies a local or UNC path (and a file:// URL) instead of downloading' {
        $source = Join-Path $TestDrive 'share-file.whl'
        Set-Content -LiteralPath $source -Value 'from the share'
        Save-Download -Url $source -OutFile $script:out
        Get-Content -LiteralPath $script:out | Should -Be 'from the share'
        $uri = (New-Object -TypeName System.Uri -ArgumentList $source).AbsoluteUri
        $uri | Should -BeLike 'file:///*'
        Save-Download -Url $uri -OutFile ($script:out + '2')
        Get-Content -LiteralPath ($script:out + '2') | Should -Be 'from the share'
        Should -Invoke Invoke-WebRequest -Times 0 -Exactly
    }

    It 'stops with exit code 6 for a path that is not there' {
        Get-ThrownExitCode { Save-Download -Url (Join-Path $TestDrive 'nope.whl') -OutFile $script:out } | Should -Be 6
        Get-ThrownMessage { Save-Download -Url (Join-Path $TestDrive 'nope.whl') -OutFile $script:out } | Should -BeLike 'File not found: *nope.whl (check the path*'
    }
}

Describe 'Get-ExpectedHash' {
    BeforeEach {
        $script:hash = 'ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789'
        $script:fetched = New-Object -TypeName 'System.Collections.Generic.List[string]'
        Mock Write-Host { return }
        Mock Start-Sleep { return }
        Mock Invoke-WebRequest { $script:fetched.Add($Uri); Set-Content -LiteralPath $OutFile -Value ($script:hash + ' *pybootstrap-0.1.0-py3-none-any.whl') }
    }

    It 'takes a given SHA256 as it is, in lower case, without fetching anything' {
        Get-ExpectedHash -Url 'http://mirror.example/x.whl' -ExpectedHash $script:hash -Directory $TestDrive | Should -BeExactly $script:hash.ToLowerInvariant()
        $script:fetched | Should -HaveCount 0
    }

    It 'reads "<url>.sha256" over HTTPS, placed before the query string of a signed URL' {
        Get-ExpectedHash -Url 'https://cdn.example/d/x.whl?sig=1&se=2' -Directory $TestDrive | Should -BeExactly $script:hash.ToLowerInvariant()
        $script:fetched | Should -Be @('https://cdn.example/d/x.whl.sha256?sig=1&se=2')
        @(Get-ChildItem -LiteralPath $TestDrive -Filter '*.sha256') | Should -HaveCount 0
    }

    It 'reads it over loopback HTTP (a local mirror) and from beside a local file' {
        Get-ExpectedHash -Url 'http://127.0.0.1:8080/x.whl' -Directory $TestDrive | Should -BeExactly $script:hash.ToLowerInvariant()
        $local = Join-Path $TestDrive 'local.whl'
        Set-Content -LiteralPath ($local + '.sha256') -Value ('  ' + ('e' * 64) + "  local.whl`n")
        Get-ExpectedHash -Url $local -Directory $TestDrive | Should -BeExactly ('e' * 64)
    }

    It 'refuses a checksum over plain HTTP from elsewhere with exit code 9, fetching nothing' {
        Get-ThrownExitCode { Get-ExpectedHash -Url 'http://mirror.example/x.whl' -Directory $TestDrive } | Should -Be 9
        Get-ThrownMessage { Get-ExpectedHash -Url 'http://mirror.example/x.whl' -Directory $TestDrive } | Should -BeLike '*a checksum file over plain HTTP proves nothing*'
        $script:fetched | Should -HaveCount 0
    }

    It 'is an integrity failure (exit code 9) when there is no checksum file, and a network one (6) when it cannot be reached' {
        Mock Invoke-WebRequest { throw (New-HttpFailure -Status 404) }
        Get-ThrownExitCode { Get-ExpectedHash -Url 'https://example.test/x.whl' -Directory $TestDrive } | Should -Be 9
        Get-ThrownExitCode { Get-ExpectedHash -Url (Join-Path $TestDrive 'no-sidecar.whl') -Directory $TestDrive } | Should -Be 9
        Mock Invoke-WebRequest { throw (New-Object System.Net.Http.HttpRequestException 'Name or service not known') }
        Get-ThrownExitCode { Get-ExpectedHash -Url 'https://example.test/x.whl' -Directory $TestDrive } | Should -Be 6
    }

    It 'is exit code 9 when the checksum file holds no SHA256' {
        Mock Invoke-WebRequest { Set-Content -LiteralPath $OutFile -Value '<html>Sign in</html>' }
        Get-ThrownExitCode { Get-ExpectedHash -Url 'https://example.test/x.whl' -Directory $TestDrive } | Should -Be 9
        Get-ThrownMessage { Get-ExpectedHash -Url 'https://example.test/x.whl' -Directory $TestDrive } | Should -Be 'The checksum file https://example.test/x.whl.sha256 holds no SHA256.'
    }
}

Describe 'Get-VerifiedFile' {
    BeforeEach {
        $script:share = Join-Path $TestDrive ('share-' + [guid]::NewGuid().ToString('N'))
        $script:work = Join-Path $TestDrive ('work-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $script:share, $script:work
        $script:file = Join-Path $script:share 'Miniforge3-Windows-x86_64.exe'
        [System.IO.File]::WriteAllText($script:file, 'installer bytes')
        # SHA256 of the ASCII text "installer bytes", worked out independently (printf 'installer bytes' | sha256sum).
        $script:good = 'e34210a6de4f653edf588301431c3d69a633638cbf587345cc50a7fed9f38f4c'
        Mock Write-Host { return }
        Mock Get-AuthenticodeSignature { [pscustomobject]@{ Status = 'Valid'; StatusMessage = 'Signature verified.'; SignerCertificate = [pscustomobject]@{ Subject = 'CN=conda-forge' } } }
    }

    It 'copies the file, checks its SHA256 and returns the copy' {
        $path = Get-VerifiedFile -Url $script:file -ExpectedHash $script:good.ToUpperInvariant() -Directory $script:work
        $path | Should -Be (Join-Path $script:work 'Miniforge3-Windows-x86_64.exe')
        [System.IO.File]::ReadAllText($path) | Should -Be 'installer bytes'
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] SHA256 verified: Miniforge3-Windows-x86_64.exe' } -Times 1 -Exactly
        Should -Invoke Get-AuthenticodeSignature -Times 0 -Exactly
    }

    It 'deletes the copy and stops with exit code 9 on a SHA256 mismatch, leaving the original alone' {
        $wrong = 'a' * 64
        $message = Get-ThrownMessage { Get-VerifiedFile -Url $script:file -ExpectedHash $wrong -Directory $script:work }
        $message | Should -Be ('SHA256 mismatch for Miniforge3-Windows-x86_64.exe: expected ' + $wrong + ', got ' + $script:good +
            '. The file was deleted and nothing was installed (a proxy, mirror or truncated download may have changed it).')
        Get-ThrownExitCode { Get-VerifiedFile -Url $script:file -ExpectedHash $wrong -Directory $script:work } | Should -Be 9
        @(Get-ChildItem -LiteralPath $script:work) | Should -HaveCount 0
        Test-Path -LiteralPath $script:file | Should -BeTrue
    }

    It 'with -Signed checks the Authenticode signature after the hash' {
        $path = Get-VerifiedFile -Url $script:file -ExpectedHash $script:good -Directory $script:work -Signed
        Should -Invoke Get-AuthenticodeSignature -ParameterFilter { $LiteralPath -eq $path } -Times 1 -Exactly
        Should -Invoke Write-Host -ParameterFilter { $Object -eq '[pybootstrap] Signature verified: Miniforge3-Windows-x86_64.exe (CN=conda-forge)' } -Times 1 -Exactly
    }

    It 'deletes the file and stops with exit code 9 when the signature is <Status>' -ForEach @(
        @{ Status = 'HashMismatch' }
        @{ Status = 'NotSigned' }
        @{ Status = 'UnknownError' }
    ) {
        Mock Get-AuthenticodeSignature { [pscustomobject]@{ Status = $Status; StatusMessage = 'The file is not trusted.'; SignerCertificate = $null } }
        Get-ThrownExitCode { Get-VerifiedFile -Url $script:file -ExpectedHash $script:good -Directory $script:work -Signed } | Should -Be 9
        Get-ThrownMessage { Get-VerifiedFile -Url $script:file -ExpectedHash $script:good -Directory $script:work -Signed } |
            Should -Be ('The Authenticode signature of Miniforge3-Windows-x86_64.exe is not valid (' + $Status + ': The file is not trusted.). The file was deleted and nothing was installed.')
        @(Get-ChildItem -LiteralPath $script:work) | Should -HaveCount 0
    }

    It 'never checks a signature before the hash matched' {
        Get-ThrownExitCode { Get-VerifiedFile -Url $script:file -ExpectedHash ('b' * 64) -Directory $script:work -Signed } | Should -Be 9
        Should -Invoke Get-AuthenticodeSignature -Times 0 -Exactly
    }

    It 'is exit code 9 when no SHA256 can be had, and the copy is gone' {
        Get-ThrownExitCode { Get-VerifiedFile -Url $script:file -Directory $script:work } | Should -Be 9
        @(Get-ChildItem -LiteralPath $script:work) | Should -HaveCount 0
    }
}

Describe 'Get-HttpStatusCode' {
    It 'finds the status in an exception or its inner exceptions, and $null without one' {
        Get-HttpStatusCode -Exception (New-HttpFailure -Status 407) | Should -Be 407
        $outer = New-Object System.Exception -ArgumentList 'outer', (New-HttpFailure -Status 404)
        Get-HttpStatusCode -Exception $outer | Should -Be 404
        Get-HttpStatusCode -Exception (New-Object System.Exception 'no response') | Should -BeNullOrEmpty
    }
}
