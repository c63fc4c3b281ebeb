from cxrgan.cli.main import main

raise SystemExit(main())
