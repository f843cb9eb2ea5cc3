# bootstrap.ps1 as a file: encoding, syntax, structure and the parameter / environment-variable table.

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

BeforeAll {
    $env:PYBOOTSTRAP_NO_MAIN = '1'
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    $script:DocPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'README.md'
    . $script:ScriptPath
    . (Join-Path -Path $PSScriptRoot -ChildPath 'TestHelpers.ps1')
    $tokens = $null
    $parseErrors = $null
    $script:Ast = [System.Management.Automation.Language.Parser]::ParseFile($script:ScriptPath, [ref]$tokens, [ref]$parseErrors)
    $script:ParseErrors = $parseErrors
    $script:CommonParameters = @([System.Management.Automation.PSCmdlet]::CommonParameters) + @([System.Management.Automation.PSCmdlet]::OptionalCommonParameters)
}

Describe 'bootstrap.ps1 file' {
    It 'is pure ASCII (Windows PowerShell 5.1 reads a BOM-less file as ANSI)' {
        $bytes = [System.IO.File]::ReadAllBytes($script:ScriptPath)
        @($bytes | Where-Object { $_ -gt 127 }).Count | Should -Be 0
    }

    It 'parses without errors in this PowerShell' {
        @($script:ParseErrors).Count | Should -Be 0
    }

    It 'calls exit only inside Exit-Bootstrap' {
        $exits = $script:Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.ExitStatementAst] }, $true)
        @($exits).Count | Should -Be 1
        foreach ($exitStatement in $exits) {
            $parent = $exitStatement.Parent
            while ($null -ne $parent -and $parent -isnot [System.Management.Automation.Language.FunctionDefinitionAst]) {
                $parent = $parent.Parent
            }
            $parent.Name | Should -Be 'Exit-Bootstrap'
        }
    }

    It 'never prompts: no Read-Host and no Mandatory parameter' {
        $commandNames = @($script:Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true) |
                ForEach-Object { $_.GetCommandName() })
        $commandNames | Should -Not -Contain 'Read-Host'
        $mandatory = $script:Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.NamedAttributeArgumentAst] -and $node.ArgumentName -eq 'Mandatory' }, $true)
        @($mandatory).Count | Should -Be 0
    }

    It 'has only functions and one guarded entry call at the top level' {
        $statements = @($script:Ast.EndBlock.Statements)
        $other = @($statements | Where-Object { $_ -isnot [System.Management.Automation.Language.FunctionDefinitionAst] })
        $other.Count | Should -Be 1
        $other[0] | Should -BeOfType ([System.Management.Automation.Language.IfStatementAst])
        $other[0].Extent.Text | Should -Match 'PYBOOTSTRAP_NO_MAIN'
        $other[0].Extent.Text | Should -Match 'InvocationName'
    }

    It 'uses approved verbs for every function' {
        $verbs = @(Get-Verb | ForEach-Object { $_.Verb })
        $functions = $script:Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true)
        foreach ($function in $functions) {
            $function.Name.Split('-')[0] | Should -BeIn $verbs -Because $function.Name
        }
    }
}

Describe 'parameters and environment variables' {
    BeforeAll {
        # Remember every PYBOOTSTRAP_* variable of the table, to put them back after each test.
        $script:EnvironmentBackup = @{}
        foreach ($name in (Get-ParameterEnvironmentMap).Values) {
            $script:EnvironmentBackup[$name] = [System.Environment]::GetEnvironmentVariable($name)
        }
    }

    AfterEach {
        Restore-ProcessEnvironment -Backup $script:EnvironmentBackup
    }

    It 'has exactly the parameters of the table' {
        $parameters = @((Get-Command -Name $script:ScriptPath).Parameters.Keys | Where-Object { $script:CommonParameters -notcontains $_ })
        $table = @((Get-ParameterEnvironmentMap).Keys)
        @(Compare-Object -ReferenceObject $table -DifferenceObject $parameters) | Should -BeNullOrEmpty
    }

    It 'defaults every parameter from its PYBOOTSTRAP_* variable' {
        $map = Get-ParameterEnvironmentMap
        foreach ($parameter in $script:Ast.ParamBlock.Parameters) {
            $name = $parameter.Name.VariablePath.UserPath
            $map.Contains($name) | Should -BeTrue -Because $name
            $parameter.DefaultValue.Extent.Text | Should -Match ([regex]::Escape('$env:' + $map[$name])) -Because $name
            $parameter.Attributes.TypeName.Name | Should -Not -Contain 'ValidateSet' -Because 'a bad environment value must give exit code 2, not a binding error'
        }
    }

    It 'takes values from the environment when run with no arguments (the "irm | iex" case)' {
        $env:PYBOOTSTRAP_PREFIX = 'D:\fleet\conda'
        $env:PYBOOTSTRAP_DISTRIBUTION = 'Miniforge'
        $env:PYBOOTSTRAP_DRY_RUN = 'yes'
        $env:PYBOOTSTRAP_OFFLINE = 'true'
        $env:PYBOOTSTRAP_FORCE = 'no'
        $env:PYBOOTSTRAP_ARGS = '--torch 2.5.1 --no-gpu'
        . $script:ScriptPath
        $Prefix | Should -Be 'D:\fleet\conda'
        $Distribution | Should -Be 'Miniforge'
        $DryRun.IsPresent | Should -BeTrue
        $Offline.IsPresent | Should -BeTrue
        $Force.IsPresent | Should -BeFalse
        $config = Resolve-BootstrapConfig -Settings @{ PybootstrapArgs = $PybootstrapArgs; Prefix = 'D:\fleet\conda' }
        ($config.PybootstrapArgs -join ' ') | Should -Be '--torch 2.5.1 --no-gpu'
    }

    It 'lets a parameter on the command line win over the environment variable' {
        $env:PYBOOTSTRAP_PREFIX = 'D:\fleet\conda'
        . $script:ScriptPath -Prefix 'E:\mine\conda'
        $Prefix | Should -Be 'E:\mine\conda'
    }

    It 'passes unknown double-dash arguments through to pybootstrap' {
        . $script:ScriptPath -DryRun --torch 2.5.1 --variant cu121
        $DryRun.IsPresent | Should -BeTrue
        ($PybootstrapArgs -join ' ') | Should -Be '--torch 2.5.1 --variant cu121'
    }

    It 'documents every parameter and environment variable' {
        $doc = Get-Content -LiteralPath $script:DocPath -Raw
        $map = Get-ParameterEnvironmentMap
        foreach ($name in $map.Keys) {
            $doc | Should -Match ([regex]::Escape('-' + $name)) -Because $name
            $doc | Should -Match ([regex]::Escape($map[$name])) -Because $name
        }
    }

    It 'does not reuse pybootstrap''s own --python / --python-version variables' {
        $values = @((Get-ParameterEnvironmentMap).Values)
        $values | Should -Not -Contain 'PYBOOTSTRAP_PYTHON'
        $values | Should -Not -Contain 'PYBOOTSTRAP_PYTHON_VERSION'
        $values | Should -Contain 'PYBOOTSTRAP_HOME'
    }
}
