# The script as a file: ASCII, parses in this PowerShell, one guarded entry, its parameter surface, exits and prompts.

BeforeAll {
    $script:ScriptPath = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'bootstrap.ps1'
    $tokens = $null
    $errors = $null
    $script:Ast = [System.Management.Automation.Language.Parser]::ParseFile($script:ScriptPath, [ref]$tokens, [ref]$errors)
    $script:ParseErrors = $errors
}

Describe 'bootstrap.ps1 as a file' {
    It 'is pure ASCII (Windows PowerShell 5.1 reads a file without BOM as ANSI)' {
        $bytes = [System.IO.File]::ReadAllBytes($script:ScriptPath)
        @($bytes | Where-Object { $_ -gt 0x7F }) | Should -HaveCount 0
    }

    It 'parses without errors' {
        @($script:ParseErrors) | Should -HaveCount 0
    }

    It 'has exactly its documented parameters, each defaulting from its PYBOOTSTRAP_* variable' {
        $parameters = $script:Ast.ParamBlock.Parameters
        @($parameters | ForEach-Object { $_.Name.VariablePath.UserPath }) | Should -Be @(
            'HomePath', 'Source', 'SourceSha256', 'DependencySource', 'PythonExe', 'Prefix', 'InstallerUrl', 'InstallerSha256', 'Proxy',
            'EndOfParameters', 'PybootstrapArgs')
        $defaults = @{}
        foreach ($parameter in $parameters) {
            if ($parameter.DefaultValue) { $defaults[$parameter.Name.VariablePath.UserPath] = $parameter.DefaultValue.Extent.Text }
        }
        $defaults['HomePath'] | Should -Be '$env:PYBOOTSTRAP_HOME'
        $defaults['Source'] | Should -Be '$env:PYBOOTSTRAP_SOURCE'
        $defaults['SourceSha256'] | Should -Be '$env:PYBOOTSTRAP_SOURCE_SHA256'
        $defaults['DependencySource'] | Should -Be '$env:PYBOOTSTRAP_DEPENDENCY_SOURCE'
        $defaults['PythonExe'] | Should -Be '$env:PYBOOTSTRAP_PYTHON_EXE'
        $defaults['Prefix'] | Should -Be '$env:PYBOOTSTRAP_PREFIX'
        $defaults['InstallerUrl'] | Should -Be '$env:PYBOOTSTRAP_INSTALLER_URL'
        $defaults['InstallerSha256'] | Should -Be '$env:PYBOOTSTRAP_INSTALLER_SHA256'
        $defaults['Proxy'] | Should -Be '$env:PYBOOTSTRAP_PROXY'
        $defaults.Keys | Should -HaveCount 9
    }

    It 'has no mandatory parameter (it would prompt under iex)' {
        $script:Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.NamedAttributeArgumentAst] -and $node.ArgumentName -eq 'Mandatory' }, $true) |
            Should -HaveCount 0
    }

    It 'has only functions and one guarded entry call at the top level' {
        $statements = @($script:Ast.EndBlock.Statements | Where-Object { $_ -isnot [System.Management.Automation.Language.FunctionDefinitionAst] })
        $statements | Should -HaveCount 1
        $statements[0].Extent.Text | Should -BeLike 'if (*PYBOOTSTRAP_NO_MAIN*'
    }

    It 'exits only in Exit-Bootstrap and never reads from the console' {
        $exits = $script:Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.ExitStatementAst] }, $true)
        foreach ($exit in $exits) {
            $parent = $exit.Parent
            while ($parent -isnot [System.Management.Automation.Language.FunctionDefinitionAst]) { $parent = $parent.Parent }
            $parent.Name | Should -Be 'Exit-Bootstrap'
        }
        @($exits) | Should -HaveCount 1
        $commands = $script:Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true) | ForEach-Object { $_.GetCommandName() }
        $commands | Should -Not -Contain 'Read-Host'
    }

    It 'gives every function [CmdletBinding()] and a one-line description' {
        $functions = $script:Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true)
        foreach ($function in $functions) {
            $function.Body.ParamBlock.Attributes.TypeName.Name | Should -Contain 'CmdletBinding' -Because $function.Name
            $function.Body.Extent.Text | Should -Match '^\{\s*<#' -Because $function.Name
        }
    }
}
