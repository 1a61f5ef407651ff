from execution.cli import main

raise SystemExit(main())
