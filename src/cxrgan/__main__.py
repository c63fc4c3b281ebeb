from cxrgan.cli.main import entry

entry()
