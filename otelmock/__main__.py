from otelmock.cli import main

raise SystemExit(main())
