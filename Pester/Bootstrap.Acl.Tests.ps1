# The machine-wide home as SYSTEM: the exact ACL it gets, and what happens to a loose one (repair or refusal).
# The SDDL strings are Windows' own: C:\ProgramData's default descriptor (as Get-Acl shows it on Windows 10/11
# and Server 2016+) and what a subfolder SYSTEM creates there inherits from it.

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    . (Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1')
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $script:Tight = 'O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)'
    $script:ProgramData = 'O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)(A;CI;DCLCRPCR;;;BU)'
    $script:InheritedFromProgramData = 'O:SYG:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIIOID;GA;;;CO)(A;OICIID;0x1200a9;;;BU)(A;CIID;DCLCRPCR;;;BU)'
    $script:UserFile = 'O:S-1-5-21-1004336348-1177238915-682003330-1001G:S-1-5-21-1004336348-1177238915-682003330-513D:AI(A;ID;FA;;;SY)'
}

Describe 'The machine-wide home''s ACL' {
    It 'is exactly: owner Administrators, no inheritance, SYSTEM and Administrators full control, Users read and execute' {
        (Get-BootstrapConstants).MachineHomeSddl | Should -BeExactly 'O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)'
        Get-AclProblem -Sddl (Get-BootstrapConstants).MachineHomeSddl | Should -BeNullOrEmpty
    }
}

Describe 'Get-AclProblem' {
    It 'finds <Case>' -ForEach @(
        @{ Case = 'a folder made in ProgramData loose: it inherits'; Sddl = 'O:SYG:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;0x1200a9;;;BU)(A;CIID;DCLCRPCR;;;BU)'; Problem = 'it inherits permissions from its parent folder' }
        @{ Case = 'ProgramData itself loose: CREATOR OWNER gets full control of what users create'; Sddl = 'PROGRAMDATA'; Problem = 'it lets CO write (GA)' }
        @{ Case = 'Users may add files (DC = FILE_ADD_FILE)'; Sddl = 'O:BAG:SYD:P(A;OICI;FA;;;SY)(A;CI;DCLCRPCR;;;BU)'; Problem = 'it lets BU write (DCLCRPCR)' }
        @{ Case = 'Authenticated Users with Modify (hex)'; Sddl = 'O:BAG:SYD:P(A;OICI;FA;;;SY)(A;OICI;0x1301bf;;;AU)'; Problem = 'it lets AU write (0x1301bf)' }
        @{ Case = 'Everyone may change the permissions'; Sddl = 'O:BAG:SYD:P(A;OICI;WD;;;WD)'; Problem = 'it lets WD write (WD)' }
        @{ Case = 'a user owns it'; Sddl = 'USERFILE'; Problem = 'it is owned by S-1-5-21-1004336348-1177238915-682003330-1001 (an owner can always change the permissions)' }
        @{ Case = 'no access list at all'; Sddl = 'O:BAG:SY'; Problem = 'it has no access list that can be checked' }
        @{ Case = 'an unknown right, taken as the worst'; Sddl = 'O:BAG:SYD:P(A;;ZZ;;;BU)'; Problem = 'it lets BU write (ZZ)' }
        @{ Case = 'a write right after a read right'; Sddl = 'O:BAG:SYD:P(A;OICI;FA;;;SY)(A;CI;CCDC;;;BU)'; Problem = 'it lets BU write (CCDC)' }
        @{ Case = 'full control in directory-service letters'; Sddl = 'O:BAG:SYD:P(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;IU)'; Problem = 'it lets IU write (CCDCLCSWRPWPDTLOCRSDRCWDWO)' }
    ) {
        $text = $Sddl.Replace('PROGRAMDATA', $script:ProgramData).Replace('USERFILE', $script:UserFile)
        Get-AclProblem -Sddl $text | Should -BeExactly $Problem
    }

    It 'accepts <Case>' -ForEach @(
        @{ Case = 'the home''s own ACL'; Sddl = 'O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)' }
        @{ Case = 'owner SYSTEM by SID, Users read only (FR)'; Sddl = 'O:S-1-5-18G:SYD:P(A;OICI;FA;;;S-1-5-18)(A;OICI;FR;;;BU)' }
        @{ Case = 'a deny ACE for everyone else'; Sddl = 'O:BAG:SYD:P(A;OICI;FA;;;BA)(D;OICI;FA;;;WD)' }
        @{ Case = 'Users with read, execute and list (FRFX)'; Sddl = 'O:BAG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FRFX;;;BU)' }
    ) {
        Get-AclProblem -Sddl $Sddl | Should -BeNullOrEmpty
    }

    It 'with -OwnerOnly looks at the owner alone' {
        Get-AclProblem -Sddl $script:InheritedFromProgramData -OwnerOnly | Should -BeNullOrEmpty
        Get-AclProblem -Sddl $script:UserFile -OwnerOnly | Should -BeLike 'it is owned by S-1-5-21-*'
    }
}

Describe 'Protect-MachineHome' {
    BeforeEach {
        $script:homePath = Join-Path -Path $TestDrive -ChildPath ('ProgramData-' + [guid]::NewGuid().ToString('N')) | Join-Path -ChildPath 'pybootstrap'
        $script:written = New-Object -TypeName 'System.Collections.Generic.List[string]'
        $script:acls = @{}
        Mock Write-Host { return }
        Mock Get-Acl { New-FakeAcl -Sddl $script:acls[$LiteralPath] }
        Mock Set-Acl {
            $script:written.Add($LiteralPath + ' <- ' + $AclObject.Sddl + ' (folder empty: ' + (@(Get-ChildItem -LiteralPath $LiteralPath -Force).Count -eq 0) + ')')
            $script:acls[$LiteralPath] = $AclObject.Sddl
        }
    }

    It 'creates a new home and gives it the exact ACL while it is still empty' {
        $script:acls[$script:homePath] = $script:InheritedFromProgramData  # what New-Item gives it in ProgramData
        Mock New-Item { $null = [System.IO.Directory]::CreateDirectory($Path); $script:acls[$Path] = $script:InheritedFromProgramData }
        Protect-MachineHome -Path $script:homePath
        $script:written | Should -Be @($script:homePath + ' <- ' + $script:Tight + ' (folder empty: True)')
        Should -Invoke New-Item -ParameterFilter { $ItemType -eq 'Directory' -and $Path -eq $script:homePath } -Times 1 -Exactly
    }

    It 'refuses with exit code 8 when something appeared in the new home before it was protected' {
        Mock New-Item { $null = [System.IO.Directory]::CreateDirectory($Path); Set-Content -LiteralPath (Join-Path $Path 'evil.pth') -Value 'import os' }
        $thrown = Get-Thrown { Protect-MachineHome -Path $script:homePath }
        $thrown.ExitCode | Should -Be 8
        $thrown.Message | Should -BeLike '*evil.pth appeared while*Nothing was installed*'
    }

    It 'leaves a home that is already safe alone' {
        $null = New-Item -ItemType Directory -Path $script:homePath -Force
        $script:acls[$script:homePath] = $script:Tight
        Protect-MachineHome -Path $script:homePath
        Should -Invoke Set-Acl -Times 0 -Exactly
    }

    It 'repairs a loose home whose contents all belong to SYSTEM or Administrators' {
        $venv = Join-Path $script:homePath 'tool'
        $null = New-Item -ItemType Directory -Path $venv -Force
        Set-Content -LiteralPath (Join-Path $venv 'pyvenv.cfg') -Value 'home = C:\Python312'
        $script:acls[$script:homePath] = $script:InheritedFromProgramData
        $script:acls[$venv] = $script:InheritedFromProgramData
        $script:acls[(Join-Path $venv 'pyvenv.cfg')] = 'O:BAG:SYD:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;0x1200a9;;;BU)'
        Protect-MachineHome -Path $script:homePath
        $script:written | Should -Be @($script:homePath + ' <- ' + $script:Tight + ' (folder empty: False)')
        Should -Invoke Write-Host -ParameterFilter { $Object -like '*WARNING: Repairing the permissions of*it inherits permissions from its parent folder.' } -Times 1 -Exactly
    }

    It 'refuses a loose home with a file another account made, names it, and changes nothing' {
        $site = Join-Path $script:homePath 'tool/venv/lib/site-packages'
        $null = New-Item -ItemType Directory -Path $site -Force
        $planted = Join-Path $site 'planted.pth'
        Set-Content -LiteralPath $planted -Value 'import os'
        foreach ($item in @(Get-ChildItem -LiteralPath $script:homePath -Recurse -Force) + @(Get-Item -LiteralPath $script:homePath)) {
            $script:acls[$item.FullName] = $script:InheritedFromProgramData
        }
        $script:acls[$planted] = $script:UserFile
        Get-ThrownExitCode { Protect-MachineHome -Path $script:homePath } | Should -Be 8
        Get-ThrownMessage { Protect-MachineHome -Path $script:homePath } | Should -BeLike ('The machine-wide home * is not safe: it inherits permissions from its parent folder, and ' + $planted + ' is owned by S-1-5-21-*Nothing was changed.*')
        $script:written | Should -HaveCount 0
        Test-Path -LiteralPath $planted | Should -BeTrue
    }

    It 'refuses with exit code 8 when Windows refuses the new permissions' {
        $null = New-Item -ItemType Directory -Path $script:homePath -Force
        $script:acls[$script:homePath] = $script:UserFile
        Mock Set-Acl { throw (New-Object System.UnauthorizedAccessException 'Attempted to perform an unauthorized operation.') }
        $thrown = Get-Thrown { Protect-MachineHome -Path $script:homePath }
        $thrown.ExitCode | Should -Be 8
        $thrown.Message | Should -BeLike 'Could not set the permissions of *: Attempted to perform an unauthorized operation. Nothing was installed.'
    }

    It 'refuses with exit code 8 when the repair does not hold' {
        $null = New-Item -ItemType Directory -Path $script:homePath -Force
        $script:acls[$script:homePath] = $script:InheritedFromProgramData
        Mock Set-Acl { return }
        Get-ThrownExitCode { Protect-MachineHome -Path $script:homePath } | Should -Be 8
        Get-ThrownMessage { Protect-MachineHome -Path $script:homePath } | Should -BeLike 'Could not make * safe: it inherits permissions from its parent folder. Nothing was installed.'
    }
}

Describe 'Set-MachineHomeAcl on Windows' -Tag 'Windows' -Skip:(-not $onWindows) {
    It 'writes an ACL that Windows reads back as safe, with inheritance removed' {
        $folder = Join-Path $TestDrive 'real-home'
        $null = New-Item -ItemType Directory -Path $folder
        if (-not ([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
            Set-ItResult -Skipped -Because 'setting the owner to Administrators needs an elevated session'
            return
        }
        Set-MachineHomeAcl -Path $folder
        $acl = Get-Acl -LiteralPath $folder
        $acl.AreAccessRulesProtected | Should -BeTrue
        Get-AclProblem -Sddl $acl.Sddl | Should -BeNullOrEmpty
        $acl.Sddl | Should -BeLike 'O:BA*D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)*'
    }
}
