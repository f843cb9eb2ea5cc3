<#
.SYNOPSIS
    Runs the Pester suite for bootstrap.ps1 (Pester 5 or 6), skipping Windows-only tests elsewhere.
.EXAMPLE
    pwsh -NoProfile -File Pester/run.ps1 -CI
#>
[CmdletBinding()]
param(
    # Write an NUnit XML result file and end the process with the number of failed tests.
    [switch] $CI,
    # Where the result file goes (with -CI).
    [string] $ResultPath = (Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath 'pybootstrap-pester-results.xml'),
    # None, Normal, Detailed or Diagnostic.
    [string] $Verbosity = 'Detailed'
)

$onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
Import-Module -Name Pester -MinimumVersion 5.3.0 -ErrorAction Stop

$configuration = New-PesterConfiguration
$configuration.Run.Path = $PSScriptRoot
$configuration.Run.Exit = [bool]$CI
$configuration.Run.PassThru = -not $CI
$configuration.Output.Verbosity = $Verbosity
$configuration.TestResult.Enabled = [bool]$CI
$configuration.TestResult.OutputPath = $ResultPath
if (-not $onWindows) {
    Write-Warning 'Not on Windows: tests tagged Windows are skipped.'
    $configuration.Filter.ExcludeTag = @('Windows')
}
Invoke-Pester -Configuration $configuration
