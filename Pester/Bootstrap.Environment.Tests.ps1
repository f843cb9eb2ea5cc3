# Environment checks (language mode, PowerShell, Windows, architecture, long paths, disk space)
# and the small wrappers around the machine.

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    . $script:ScriptPath
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:OnWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

Describe 'environment checks' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'explains Constrained Language Mode in plain text' {
        Mock Get-LanguageMode { 'FullLanguage' }
        Get-LanguageModeProblem | Should -BeNullOrEmpty
        Mock Get-LanguageMode { 'ConstrainedLanguage' }
        $message = Get-LanguageModeProblem
        $message | Should -Match 'ConstrainedLanguage mode'
        $message | Should -Match 'AppLocker or WDAC'
        $message | Should -Match 'Exit code 8'
    }

    It 'requires PowerShell 5.1 or newer (exit code 8)' {
        Mock Get-PSVersion { [version]'5.0.10586' }
        Get-ThrownExitCode { Assert-PowerShellVersion } | Should -Be 8
        Mock Get-PSVersion { [version]'5.1.19041' }
        Get-ThrownExitCode { Assert-PowerShellVersion } | Should -BeNullOrEmpty
        Mock Get-PSVersion { [version]'7.4.6' }
        Get-ThrownExitCode { Assert-PowerShellVersion } | Should -BeNullOrEmpty
    }

    It 'reads the native architecture <Registry> as <Expected>' -ForEach @(
        @{ Registry = 'AMD64'; Expected = 'x86_64' },
        @{ Registry = 'ARM64'; Expected = 'arm64' },
        @{ Registry = 'x86'; Expected = 'x86' }
    ) {
        $value = $Registry
        Mock Get-RegistryValue { $value }
        Get-NativeArchitecture | Should -Be $Expected
        Should -Invoke Get-RegistryValue -ParameterFilter { $Name -eq 'PROCESSOR_ARCHITECTURE' } -Times 1 -Exactly
    }

    It 'falls back to PROCESSOR_ARCHITEW6432 in a 32-bit process' {
        Mock Get-RegistryValue { $null }
        $backup = Set-ProcessEnvironment -Values @{ PROCESSOR_ARCHITEW6432 = 'AMD64'; PROCESSOR_ARCHITECTURE = 'x86' }
        try {
            Get-NativeArchitecture | Should -Be 'x86_64'
        }
        finally {
            Restore-ProcessEnvironment -Backup $backup
        }
    }

    It 'reads the Windows version from the registry' {
        Mock Get-RegistryValue { $null }
        Mock Get-RegistryValue { 10 } -ParameterFilter { $Name -eq 'CurrentMajorVersionNumber' }
        Mock Get-RegistryValue { 0 } -ParameterFilter { $Name -eq 'CurrentMinorVersionNumber' }
        Mock Get-RegistryValue { '22631' } -ParameterFilter { $Name -eq 'CurrentBuildNumber' }
        Get-WindowsVersion | Should -Be ([version]'10.0.22631')
    }

    It 'refuses <Case> with exit code 8' -ForEach @(
        @{ Case = 'Linux or macOS'; Windows = $false; Version = '10.0.19045'; Arch = 'x86_64'; Text = 'is for Windows' },
        @{ Case = 'Windows 8.1'; Windows = $true; Version = '6.3.9600'; Arch = 'x86_64'; Text = 'Windows 10' },
        @{ Case = '32-bit Windows'; Windows = $true; Version = '10.0.19045'; Arch = 'x86'; Text = '32-bit' },
        @{ Case = 'an unknown CPU'; Windows = $true; Version = '10.0.19045'; Arch = 'ia64'; Text = 'Unsupported' }
    ) {
        $isWindowsPlatform = $Windows
        $windowsVersion = [version]$Version
        $architecture = $Arch
        Mock Test-IsWindowsPlatform { $isWindowsPlatform }
        Mock Get-WindowsVersion { $windowsVersion }
        Mock Get-NativeArchitecture { $architecture }
        Get-ThrownExitCode { Assert-Platform } | Should -Be 8
        Get-ThrownMessage { Assert-Platform } | Should -Match $Text
    }

    It 'accepts x86_64 and warns on ARM64' {
        Mock Test-IsWindowsPlatform { $true }
        Mock Test-Is64BitProcess { $true }
        Mock Get-WindowsVersion { [version]'10.0.22631' }
        Mock Get-NativeArchitecture { 'x86_64' }
        Assert-Platform | Should -Be 'x86_64'
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Warn' } -Times 0 -Exactly
        Mock Get-NativeArchitecture { 'arm64' }
        Assert-Platform | Should -Be 'arm64'
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Warn' -and $Message -match 'ARM64' } -Times 1 -Exactly
    }

    It 'passes when long paths are enabled' {
        Mock Get-RegistryValue { 1 }
        Mock Set-RegistryValue { return }
        Test-LongPathSupport | Should -BeTrue
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Warn' } -Times 0 -Exactly
        Should -Invoke Set-RegistryValue -Times 0 -Exactly
    }

    It 'warns with the fix when long paths are disabled' {
        Mock Get-RegistryValue { 0 }
        Mock Set-RegistryValue { return }
        Test-LongPathSupport | Should -BeFalse
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Warn' -and $Message -match 'LongPathsEnabled -Value 1' -and $Message -match '-EnableLongPaths' } -Times 1 -Exactly
        Should -Invoke Set-RegistryValue -Times 0 -Exactly
    }

    It 'enables long paths with -EnableLongPaths only when elevated and not in a dry run' {
        Mock Get-RegistryValue { $null }
        Mock Set-RegistryValue { return }
        Mock Test-IsAdmin { $true }
        Test-LongPathSupport -Enable $true -DryRun $true | Should -BeFalse
        Should -Invoke Set-RegistryValue -Times 0 -Exactly
        Test-LongPathSupport -Enable $true | Should -BeTrue
        Should -Invoke Set-RegistryValue -ParameterFilter { $Name -eq 'LongPathsEnabled' -and $Value -eq 1 } -Times 1 -Exactly
        Mock Test-IsAdmin { $false }
        Test-LongPathSupport -Enable $true | Should -BeFalse
        Should -Invoke Write-Log -ParameterFilter { $Message -match 'needs an elevated' } -Times 1 -Exactly
    }

    It 'warns with the fix when disk space is low' {
        Mock Get-FreeSpaceBytes { [long]2147483648 }
        Test-FreeSpace -Path 'C:\x' | Should -BeFalse
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Warn' -and $Message -match 'Only 2[.,]0 GB free' -and $Message -match '-HomePath D:' } -Times 1 -Exactly
    }

    It 'passes when disk space is enough or unknown' {
        Mock Get-FreeSpaceBytes { [long]53687091200 }
        Test-FreeSpace -Path 'C:\x' | Should -BeTrue
        Mock Get-FreeSpaceBytes { $null }
        Test-FreeSpace -Path '\\server\share' | Should -BeTrue
        Should -Invoke Write-Log -ParameterFilter { $Level -eq 'Warn' } -Times 0 -Exactly
    }
}

Describe 'wrappers on this machine' {
    BeforeAll {
        Mock Write-Log { return }
    }

    It 'reports FullLanguage and a PowerShell of at least 5.1' {
        Get-LanguageMode | Should -Be 'FullLanguage'
        Get-PSVersion | Should -BeGreaterOrEqual ([version]'5.1')
    }

    It 'reports the platform, the process bitness and interactivity as booleans' {
        Test-IsWindowsPlatform | Should -Be $script:OnWindows
        Test-Is64BitProcess | Should -Be ([System.Environment]::Is64BitProcess)
        Test-IsInteractive | Should -BeOfType ([bool])
    }

    It 'is never admin or SYSTEM off Windows' -Skip:$onWindows {
        Test-IsAdmin | Should -BeFalse
        Test-IsSystem | Should -BeFalse
    }

    It 'tells admin and SYSTEM on Windows' -Tag Windows -Skip:(-not $onWindows) {
        Test-IsAdmin | Should -BeOfType ([bool])
        Test-IsSystem | Should -Be ([System.Security.Principal.WindowsIdentity]::GetCurrent().User.Value -eq 'S-1-5-18')
    }

    It 'returns $null for a registry value that does not exist' {
        Get-RegistryValue -Path 'HKCU:\Software\pybootstrap-pester-does-not-exist' -Name 'Nothing' | Should -BeNullOrEmpty
    }

    It 'reads a real registry value' -Tag Windows -Skip:(-not $onWindows) {
        Get-RegistryValue -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -Name 'CurrentBuildNumber' | Should -Match '^\d+$'
    }

    It 'writes a DWORD registry value' -Tag Windows -Skip:(-not $onWindows) {
        $key = 'HKCU:\Software\pybootstrap-pester-' + [guid]::NewGuid().ToString('N')
        $null = New-Item -Path $key -Force
        try {
            Set-RegistryValue -Path $key -Name 'Flag' -Value 1
            Get-RegistryValue -Path $key -Name 'Flag' | Should -Be 1
        }
        finally {
            Remove-Item -LiteralPath $key -Recurse -Force
        }
    }

    It 'lists PEP 514 registrations from HKCU and both HKLM views' -Tag Windows -Skip:(-not $onWindows) {
        $entries = @(Get-PythonRegistryEntries)
        foreach ($entry in $entries) {
            $entry.Root | Should -BeIn @('HKCU', 'HKLM64', 'HKLM32')
            $entry.Company | Should -Not -Be 'PyLauncher'
        }
    }

    It 'measures free space, and gives $null for a UNC path' {
        Get-FreeSpaceBytes -Path $TestDrive | Should -BeGreaterThan 0
        Get-FreeSpaceBytes -Path '\\server\share\folder' | Should -BeNullOrEmpty
    }

    It 'tests paths and lists folders' {
        $folder = Join-Path -Path $TestDrive -ChildPath 'listing'
        $null = New-Item -ItemType Directory -Path $folder
        Set-Content -LiteralPath (Join-Path -Path $folder -ChildPath 'pybootstrap-0.1.0-py3-none-any.whl') -Value 'x'
        Set-Content -LiteralPath (Join-Path -Path $folder -ChildPath 'other.txt') -Value 'x'
        Test-PathExists -Path $folder -PathType Container | Should -BeTrue
        Test-PathExists -Path $folder -PathType Leaf | Should -BeFalse
        Test-PathExists -Path '' | Should -BeFalse
        @(Get-DirectoryEntryNames -Path $folder).Count | Should -Be 2
        @(Get-DirectoryEntryNames -Path $folder -Filter 'pybootstrap-*.whl') | Should -Be 'pybootstrap-0.1.0-py3-none-any.whl'
        @(Get-DirectoryEntryNames -Path (Join-Path -Path $TestDrive -ChildPath 'missing')).Count | Should -Be 0
    }

    It 'hashes a file with SHA256 in lower case' {
        $file = Join-Path -Path $TestDrive -ChildPath 'abc.bin'
        [System.IO.File]::WriteAllBytes($file, [byte[]](97, 98, 99))
        Get-FileSha256 -Path $file | Should -BeExactly 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    }

    It 'reports an unsigned file as NotSigned' -Tag Windows -Skip:(-not $onWindows) {
        $file = Join-Path -Path $TestDrive -ChildPath 'unsigned.ps1'
        Set-Content -LiteralPath $file -Value 'Write-Output 1'
        (Get-SignatureStatus -Path $file).Status | Should -Be 'NotSigned'
    }

    It 'finds no command for an unknown name' {
        @(Get-CommandPath -Name 'pybootstrap-no-such-command').Count | Should -Be 0
    }

    It 'finds cmd.exe on PATH' -Tag Windows -Skip:(-not $onWindows) {
        @(Get-CommandPath -Name 'cmd')[0] | Should -Match '(?i)\\cmd\.exe$'
    }

    It 'knows the folder it sits in' {
        Get-ScriptDirectory | Should -Be (Split-Path -Parent $script:ScriptPath)
    }

    It 'gives the system proxy as a URL or $null' {
        $proxy = Get-SystemProxyUri -Url 'https://pypi.org/'
        if ($null -ne $proxy) {
            $proxy | Should -Match '^https?://'
        }
        Get-SystemProxyUri -Url 'not a url' | Should -BeNullOrEmpty
    }
}
